"""Append-only, hash-chained, checkpoint-signed audit log."""
