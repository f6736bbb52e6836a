"""Measure: other tools' counters reconciled with the analytic count, and timing."""
