"""Report: analysis of stored runs, EDFs, plots, markdown reports and the paper's tables."""
