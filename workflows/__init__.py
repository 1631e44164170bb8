"""Deterministic Temporal workflows. No I/O, no clocks: side effects live in ``activities``."""
