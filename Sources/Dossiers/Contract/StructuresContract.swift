enum StructuresContract {}
