"""Streaming writers for CSV, JSON Lines and Parquet: rows go to disk as they come."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_BATCH = 5000
_ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}


class Writer(Protocol):
    path: Path
    rows: int

    def write(self, row: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class CsvWriter:
    def __init__(self, path: Path, columns: list[tuple[str, str]]):
        self.path = path
        self.rows = 0
        self._fh = path.open("w", newline="", encoding="utf-8")
        self._w = csv.writer(self._fh)
        self._names = [c for c, _ in columns]
        self._w.writerow(self._names)

    def write(self, row: dict[str, Any]) -> None:
        self._w.writerow(["" if row.get(c) is None else row[c] for c in self._names])
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


class JsonlWriter:
    def __init__(self, path: Path, columns: list[tuple[str, str]]):
        self.path = path
        self.rows = 0
        self._fh = path.open("w", encoding="utf-8")
        self._names = [c for c, _ in columns]

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps({c: row.get(c) for c in self._names}, ensure_ascii=False) + "\n")
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


class ParquetWriter:
    """Buffers at most PARQUET_BATCH rows, then writes them as one row group."""

    def __init__(self, path: Path, columns: list[tuple[str, str]]):
        self.path = path
        self.rows = 0
        self._schema = pa.schema([(c, _ARROW[t]) for c, t in columns])
        self._names = [c for c, _ in columns]
        self._buf: dict[str, list[Any]] = {c: [] for c in self._names}
        self._w = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, row: dict[str, Any]) -> None:
        for c in self._names:
            self._buf[c].append(row.get(c))
        self.rows += 1
        if len(self._buf[self._names[0]]) >= PARQUET_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._buf[self._names[0]]:
            self._w.write_table(pa.Table.from_pydict(self._buf, schema=self._schema))
            self._buf = {c: [] for c in self._names}

    def close(self) -> None:
        self._flush()
        self._w.close()


WRITERS: dict[str, Callable[[Path, list[tuple[str, str]]], Writer]] = {
    "csv": CsvWriter, "jsonl": JsonlWriter, "parquet": ParquetWriter,
}


def open_writer(fmt: str, path: Path, columns: list[tuple[str, str]]) -> Writer:
    return WRITERS[fmt](path, columns)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
