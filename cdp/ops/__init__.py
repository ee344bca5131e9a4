"""Operating the platform: checks an operator runs after a restore or a key change."""
