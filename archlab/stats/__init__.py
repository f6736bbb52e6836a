"""The statistics that decide a study: the pairwise test, the sequential rule, seeds needed and
P(best), and the simulation suite that holds them to their promises.

Pure numpy / scipy on per-seed errors (no torch, no rendering); report/ only renders what these
return. See docs/statistics.md for every choice.
"""
