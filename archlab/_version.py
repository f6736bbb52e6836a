"""archlab's version, in a core module of its own so train/ and report/ need not import the
whole package to stamp it on runs and reports."""

__version__ = "0.1.0"
