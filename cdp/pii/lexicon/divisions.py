"""China's administrative divisions (provinces, prefecture-level cities, counties and
districts: 3,400 names with their GB/T 2260 codes), as shipped in the MIT-licensed ``cpca``
PyPI package (``cpca/resources/adcodes.csv``). The file is read directly: importing ``cpca``
itself would build its pandas tables, which the scanner does not need. Read once per process.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
from pathlib import Path

# Suffixes a prefecture's or province's everyday short form drops (广东省 -> 广东,
# 深圳市 -> 深圳, 广西壮族自治区 -> 广西). Counties and districts keep their suffix: their
# bare names are too often ordinary words (朝阳, 南山, 鼓楼).
_PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")
_CITY_SUFFIXES = ("地区", "市", "盟")
# Entries of the list that are bookkeeping, not places.
_NOT_PLACES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


def _csv_path() -> Path:
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the cpca package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"


def _short(name: str, suffixes: tuple[str, ...]) -> str | None:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


@functools.cache
def division_names() -> frozenset[str]:
    """Every division's full name, plus the short forms of provinces and prefectures.
    Two-character county names (城区, 郊区, 和县) are left out: as words they mean other
    things, and an address spelling one out is caught by its suffix anyway."""
    names: set[str] = set()
    with open(_csv_path(), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            code, name = row["adcode"], row["name"].strip()
            if not name or name in _NOT_PLACES:
                continue
            if code[2:] == "0" * 10:
                names.add(name)
                short = _short(name, _PROVINCE_SUFFIXES)
            elif code[4:] == "0" * 8:
                names.add(name)
                short = _short(name, _CITY_SUFFIXES)
            else:
                if len(name) >= 3:
                    names.add(name)
                short = None
            if short:
                names.add(short)
    return frozenset(names)
