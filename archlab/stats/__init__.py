"""The statistics that decide a study: pairwise tests, the sequential rule, power and P(best).

Pure numpy / scipy / statsmodels on per-seed errors (no torch, no rendering); report/ only
renders what these return. See docs/statistics.md for every choice.
"""
