enum DossierContract {}
