"""What the scripts that generate a committed word list share: finding the installed package
whose data they read, and writing the list or checking the committed copy (``--check``, which
a test runs so that a hand edit or a new release of the source package shows)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_dir(module: str, pip_name: str) -> Path:
    """The directory of the installed package ``module``; exits when it is missing."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{pip_name} is not installed: pip install -e '.[dev]'")
    return Path(next(iter(spec.submodule_search_locations)))


def main(build: Callable[[], str], out: Path, script: str, doc: str) -> None:
    """Write ``build()`` to ``out``, or with ``--check`` exit 1 when ``out`` differs from it."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = ap.parse_args()
    text = build()
    shown = out.relative_to(ROOT)
    if args.check:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            sys.exit(f"{shown} is out of date: run {Path(script).resolve().relative_to(ROOT)}")
        print(f"{shown} is up to date")
        return
    out.write_text(text, encoding="utf-8")
    names = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    print(f"wrote {shown}: {names} names")
