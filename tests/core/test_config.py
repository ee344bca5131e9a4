"""Configuration helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp.config import ensure_parent


def test_ensure_parent_makes_the_sqlite_directory_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ensure_parent("sqlite:///var/sub/cdp.db")
    assert (tmp_path / "var" / "sub").is_dir()
    # A server URL names no local file: nothing may appear in the working directory.
    ensure_parent("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["var"]
