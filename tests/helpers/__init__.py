"""Shared test helpers, importable as `helpers` (pytest adds tests/ to the path)."""
