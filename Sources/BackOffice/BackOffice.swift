// BackOffice
