"""Defect 17 (issue 18): the SQLite database and its -wal / -shm files were created 0644
under the usual umask 022, readable by every local user. They must be owner-only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from cdp.config import Config
from cdp.platform import Platform


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cdp_init_creates_the_database_and_its_wal_files_owner_only(tmp_path: Path, cli_env) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "var" / "cdp.db"
    env = {**cli_env, "CDP_DATABASE_URL": f"sqlite:///{db}", "CDP_KEYRING": str(tmp_path / "kr.json")}
    # The way an operator's shell runs it: umask 022 (files 0644 unless the code says otherwise).
    subprocess.run(
        ["sh", "-c", f"umask 022 && exec {Path(sys.executable).parent / 'cdp'} init"],
        env=env, check=True, capture_output=True, timeout=120,
    )
    assert _mode(db) == 0o600

    # A serving process opens it (WAL mode) and writes: -wal and -shm appear, also private.
    old = os.umask(0o022)
    try:
        platform = Platform(Config(database_url=f"sqlite:///{db}", keyring_path=env["CDP_KEYRING"]))
        with platform.transaction() as session:
            session.execute(text("CREATE TABLE IF NOT EXISTS t17 (x INTEGER)"))
            session.execute(text("INSERT INTO t17 VALUES (1)"))
        with platform.engine.connect() as conn:  # still open: the -wal and -shm exist now
            conn.execute(text("SELECT count(*) FROM t17"))
            wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
            assert wal.exists() and shm.exists()
            assert (_mode(db), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)
        platform.dispose()
    finally:
        os.umask(old)


def test_cdp_init_tightens_a_database_left_world_readable(tmp_path: Path, cli_env) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "cdp.db"
    env = {**cli_env, "CDP_DATABASE_URL": f"sqlite:///{db}", "CDP_KEYRING": str(tmp_path / "kr.json")}
    cdp = Path(sys.executable).parent / "cdp"
    subprocess.run([str(cdp), "init"], env=env, check=True, capture_output=True, timeout=120)
    db.chmod(0o644)  # made by an older version
    subprocess.run([str(cdp), "init"], env=env, check=True, capture_output=True, timeout=120)
    assert _mode(db) == 0o600
