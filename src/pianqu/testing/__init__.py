"""Generators of test and benchmark instances, kept out of the analyses: road networks
(:mod:`pianqu.testing.network`), zoning instances (:mod:`pianqu.testing.zoning`) and parcel
layers (:mod:`pianqu.testing.land`). Nothing in :mod:`pianqu` outside this package imports them;
the default county itself comes from :mod:`pianqu.synth`."""
