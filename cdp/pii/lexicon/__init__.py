"""Word lists the recognizers use (kept in Python so they ship with the package)."""
