"""Read the rows of a ``COPY ... TO STDOUT`` in batches, straight from libpq's buffer.

psycopg's ``Copy`` iterator hands out one row per call through its generator and waiting
machinery, which costs about as much Python time per row as hashing it. libpq already
holds many rows after each network read; this drains them in a tight loop with
``PGconn.get_copy_data`` (non-blocking) and waits on the socket only when the buffer is
empty (``select``: the GIL is released, other threads of a web worker run meanwhile).
psycopg's low-level ``pq`` interface is public; the connection is back in its ordinary idle
(or in-transaction) state afterwards, every result consumed.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Generator
from typing import Any

import psycopg
from psycopg import pq

# Rows handed to the caller at once: big enough that the per-batch work vanishes, small
# enough that progress moves and memory stays a few MB.
BATCH = 8192


def _wait(pgconn: Any, *, write: bool = False) -> None:
    sock = pgconn.socket
    if write:
        select.select([sock], [sock], [])
    else:
        select.select([sock], [], [])


def _next_result(pgconn: Any) -> Any:
    """The next result of the query in flight (None when there is no more), waiting for it."""
    while pgconn.is_busy():
        _wait(pgconn)
        pgconn.consume_input()
    return pgconn.get_result()


def _raise_for(result: Any, pgconn: Any) -> None:
    message = (result.error_message if result is not None else pgconn.error_message) or b""
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE) if result is not None else None
    cls: type[psycopg.Error] = psycopg.OperationalError
    if sqlstate:
        with contextlib.suppress(KeyError):
            cls = psycopg.errors.lookup(sqlstate.decode())
    raise cls(message.decode(errors="replace").strip())


def copy_out_batches(
    conn: psycopg.Connection[Any], query: str
) -> Generator[list[bytes], None, None]:
    """Run ``query`` (a ``COPY ... TO STDOUT``) on ``conn`` and yield its rows (each a text
    line, newline included) in lists of up to BATCH. Closing the generator early reads the
    rest of the data away so the connection stays usable."""
    pgconn = conn.pgconn
    pgconn.send_query(query.encode())
    while pgconn.flush():
        _wait(pgconn, write=True)
    result = _next_result(pgconn)
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        while pgconn.get_result() is not None:
            pass
        _raise_for(result, pgconn)
    get = pgconn.get_copy_data
    finished = False
    try:
        batch: list[bytes] = []
        while True:
            nbytes, data = get(1)
            if nbytes > 0:
                batch.append(bytes(data))
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            elif nbytes == 0:  # the buffer is empty: hand over what there is, then wait
                if batch:
                    yield batch
                    batch = []
                _wait(pgconn)
                pgconn.consume_input()
            else:
                break
        finished = True
        if batch:
            yield batch
    finally:
        while not finished:
            nbytes, _ = get(1)
            if nbytes == 0:
                _wait(pgconn)
                pgconn.consume_input()
            finished = nbytes < 0
        final = _next_result(pgconn)
        while pgconn.get_result() is not None:
            pass
        if final is None or final.status != pq.ExecStatus.COMMAND_OK:
            _raise_for(final, pgconn)
