"""Statistical models the recognizers use: each loaded once per process, offline."""
