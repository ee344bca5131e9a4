"""What a data-changing statement run through a ``Session`` reports back."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def affected_rows(result: Result[Any]) -> int:
    """The number of rows an UPDATE or DELETE matched (0 when the driver does not say).

    ``Session.execute`` is typed as returning ``Result``; for these statements it returns a
    ``CursorResult``, the type that carries the count.
    """
    return cast("CursorResult[Any]", result).rowcount or 0
