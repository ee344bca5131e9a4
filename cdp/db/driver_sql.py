"""Core statements compiled once per dialect and run on the driver's cursor of a connection.

For the few statements every customer read runs (its two SELECTs and its audit append).
SQLAlchemy's execution of a compiled Core statement (compiled-cache lookup, execution
context, result metadata built from ``cursor.description``, row processing) costs about as
much CPU as the driver's own work for these (scripts/bench/read_api_bench.py measures a
read). Here the SQL text is compiled once per
dialect and a run is the driver's ``execute`` and ``fetchall``, with the same conversions
SQLAlchemy applies: the bind parameters' types' conversions on the way in, the result
columns' on the way out (built once, from the first result's column types).

What stays as with ``Connection.execute``:

- the statement runs on the connection's transaction (the session's, for a request);
- ``before_cursor_execute`` / ``after_cursor_execute`` listeners of the engine see it
  (query counting, tracing);
- a driver error is raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``, ...),
  parameters hidden, and a lost connection is invalidated so the pool does not reuse it.

Only for statements without expanding (IN-list) parameters, whose SQL text is fixed. Values
the statement carries itself (a comparison with a constant, ``literal()``) are sent with
every run.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.exc import DBAPIError


class _Compiled:
    """One statement's SQL for one dialect, with its parameter and result conversions."""

    def __init__(self, statement: Any, dialect: Any, names: tuple[str, ...] | None) -> None:
        compiled = statement.compile(dialect=dialect)
        if any(b.expanding for b in compiled.binds.values()):
            raise ValueError("a DriverStatement takes no expanding (IN-list) parameters")
        if any(b.callable is not None for b in compiled.binds.values()):
            # Its value would be read once here, not at each run as SQLAlchemy reads it.
            raise ValueError("a DriverStatement takes no parameters computed at run time")
        self.sql: str = compiled.string
        # qmark / numeric dialects (sqlite3) take a tuple in this order; pyformat a dict.
        self.positions: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional else None
        )
        self.binds: dict[str, Callable[[Any], Any]] = dict(compiled._bind_processors)
        # Values the statement carries itself (``col == "x"``, ``literal(1)``): sent with
        # every run, under what the caller gives. Required parameters have none.
        self.defaults: dict[str, Any] = {
            name: value
            for name, value in compiled.construct_params(_check=False).items()
            if not compiled.binds[name].required
        }
        # A SELECT declares its columns (names and types); a text() statement does not.
        columns = getattr(statement, "selected_columns", None)
        if names is None:
            names = tuple(columns.keys()) if columns is not None else ()
        if not names:
            raise ValueError("a DriverStatement returns rows: give the names of its columns")
        self.types = [c.type for c in columns] if columns is not None else []
        # mypy types namedtuple() only for literal field names; these come from the statement.
        row_type: Any = namedtuple("Row", names)  # type: ignore[misc]
        self.make_row: Callable[[Any], Any] = row_type._make  # a row from the driver's values
        self.dialect = dialect
        self._processors: list[tuple[int, Callable[[Any], Any]]] | None = None
        self._lock = threading.Lock()

    def parameters(self, params: Mapping[str, Any]) -> Any:
        if self.defaults:
            params = {**self.defaults, **params}
        if self.binds:
            params = {k: (self.binds[k](v) if k in self.binds else v) for k, v in params.items()}
        if self.positions is not None:
            return tuple(params[n] for n in self.positions)
        return params

    def processors(self, cursor: Any) -> list[tuple[int, Callable[[Any], Any]]]:
        """(column index, conversion) of the columns whose type converts results, from the
        driver's column types of a first result (as SQLAlchemy builds them). Read once:
        psycopg builds ``cursor.description`` anew on each access."""
        if self._processors is None:
            with self._lock:
                if self._processors is None:
                    description = cursor.description
                    out = []
                    for i, type_ in enumerate(self.types):
                        coltype = description[i][1] if description else None
                        proc = type_._cached_result_processor(self.dialect, coltype)
                        if proc is not None:
                            out.append((i, proc))
                    self._processors = out
        return self._processors


class DriverStatement:
    """A Core statement run on the driver's cursor; see the module docstring.

    ``names``: the result's column names, for a statement that does not declare them (a
    ``text()`` with RETURNING); rows then come back as named tuples all the same.
    """

    def __init__(self, statement: Any, names: tuple[str, ...] | None = None) -> None:
        self.statement = statement
        self.names = names
        self._by_dialect: dict[tuple[str, str, str], _Compiled] = {}

    def _compiled(self, dialect: Any) -> _Compiled:
        # By driver and parameter style too: two drivers of one database take different SQL.
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._by_dialect.get(key)
        if compiled is None:
            compiled = self._by_dialect.setdefault(
                key, _Compiled(self.statement, dialect, self.names)
            )
        return compiled

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row of the result, as named tuples. For statements that return rows (a
        SELECT, or RETURNING)."""
        c = self._compiled(conn.dialect)
        args = c.parameters(params)
        dbapi_conn = conn.connection.dbapi_connection
        if dbapi_conn is None:
            raise RuntimeError("the connection has no open driver connection")
        cursor = dbapi_conn.cursor()
        try:
            conn.dispatch.before_cursor_execute(conn, cursor, c.sql, args, None, False)
            try:
                cursor.execute(c.sql, args)
                raw = cursor.fetchall()
            except conn.dialect.loaded_dbapi.Error as exc:
                self._raise(conn, c, cursor, exc)
            conn.dispatch.after_cursor_execute(conn, cursor, c.sql, args, None, False)
            procs = c.processors(cursor) if raw else []
        finally:
            cursor.close()
        make = c.make_row
        if not procs:
            return [make(r) for r in raw]
        out = []
        for r in raw:
            values = list(r)
            for i, proc in procs:
                values[i] = proc(values[i])
            out.append(make(values))
        return out

    @staticmethod
    def _raise(conn: Connection, c: _Compiled, cursor: Any, exc: DBAPIModule.Error) -> None:
        dialect = conn.dialect
        lost = dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
        if lost:
            # As SQLAlchemy does for its own statements: never hand this connection out again.
            conn.invalidate(exc)
        raise DBAPIError.instance(
            c.sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
            connection_invalidated=lost, dialect=dialect,
        ) from exc
