"""The runtime: configuration, database engine, keyring, key service and policy files for one
process.

Flask apps, CLI commands and scheduled jobs each hold one ``Platform``; the unit of work
(``transaction()``) belongs to them, never to service functions.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from cdp.config import Config
from cdp.crypto.keyring import Keyring
from cdp.crypto.keys import KeyService
from cdp.db import make_engine
from cdp.policyfiles import PolicyFiles

ROOT = Path(__file__).resolve().parent.parent


def _migrations_dir() -> Path:
    """The Alembic scripts: the repository's ``migrations/`` in a checkout, else the copy an
    installed package carries under ``<prefix>/share/cdp``."""
    checkout = ROOT / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    return Path(sys.prefix) / "share" / "cdp" / "migrations"


MIGRATIONS_DIR = _migrations_dir()


class Platform:
    def __init__(self, config: Config, keyring: Keyring | None = None):
        self.config = config
        # hide_parameters: SQL errors must never echo personal values into logs.
        self.engine = make_engine(config.database_url, hide_parameters=True)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        # Every policy file (access, identity rules, PII operators, export profiles...) is
        # read through this one object; nothing else reads the policy directory.
        self.policies = PolicyFiles(config.policy_dir)
        self._keyring = keyring
        self._keys: KeyService | None = None
        self._lock = threading.RLock()  # keys -> keyring nests

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            with self._lock:
                if self._keyring is None:
                    self._keyring = Keyring.load(self.config.keyring_path)
        return self._keyring

    @property
    def keys(self) -> KeyService:
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    self._keys = KeyService(self.keyring)
        return self._keys

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        session = self.Session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def upgrade_schema(database_url: str, revision: str = "head") -> None:
    """Alembic ``upgrade`` to ``revision``: the only way the schema is made."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = database_url
    command.upgrade(cfg, revision)
