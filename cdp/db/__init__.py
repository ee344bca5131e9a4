"""Database plumbing: the declarative base, engines, bulk writes and driver-level statements.

Service functions take a ``Session``, ``flush()`` and never commit: the request, the CLI
command or the scheduled job that owns the unit of work commits (``Platform.transaction``).
"""

from cdp.db.base import NAMING, Base, UTCDateTime, new_id, utcnow
from cdp.db.engine import is_postgres, make_engine

__all__ = ["NAMING", "Base", "UTCDateTime", "is_postgres", "make_engine", "new_id", "utcnow"]
