"""Inputs a county's own data lacks, derived from what it has (三调 parcels, census, division codes), each marked as derived."""
