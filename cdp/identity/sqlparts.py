"""Small SQL helpers of identity resolution: chunked IN lists that suit each backend."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

T = TypeVar("T")

# Values per statement: SQLite's IN lists bind one parameter per value; PostgreSQL takes one
# array parameter, so its chunks can be far larger.
CHUNK = 500
PG_PAIR_CHUNK = 5000


def in_values(pg: bool, col: Any, values: Sequence[str]) -> Any:
    """``col IN values``. On PostgreSQL one array parameter (``= ANY``) instead of a bind per
    value: a statement with hundreds of binds takes longer to send and plan than to run."""
    if pg:
        return col == any_(bindparam(None, values, type_=ARRAY(String)))
    return col.in_(values)


def chunks(items: Sequence[T], n: int = CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
