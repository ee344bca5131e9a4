"""Scheduled work on APScheduler 3, with a database lock so each run happens once."""
