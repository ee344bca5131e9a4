"""English given names and surnames from the US Census Bureau's 1990 name frequency lists
(public-domain data, as shipped in the MIT-licensed ``names`` PyPI package): 5,494 given
names and 88,799 surnames, each with its frequency rank. Read once per process."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path


def _files() -> Path:
    spec = importlib.util.find_spec("names")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the names package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _ranks(*files: str) -> dict[str, int]:
    out: dict[str, int] = {}
    base = _files()
    for name in files:
        with open(base / name, encoding="ascii") as f:
            for rank, line in enumerate(f, 1):
                word = line.split(maxsplit=1)[0].title()
                if word not in out or out[word] > rank:
                    out[word] = rank
    return out


@functools.cache
def given_names() -> dict[str, int]:
    """Title-cased given name -> best rank in the male or female list (1 = commonest)."""
    return _ranks("dist.male.first", "dist.female.first")


@functools.cache
def surnames() -> dict[str, int]:
    """Title-cased surname -> rank (1 = Smith)."""
    return _ranks("dist.all.last")
