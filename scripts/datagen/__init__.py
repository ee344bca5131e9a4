"""Building blocks of the synthetic record generator (scripts/generate_records.py)."""
