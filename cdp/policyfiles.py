"""Every policy file of one policy directory, read through one object (docs/policies.md).

A ``PolicyFiles`` reads the files of its directory (TOML documents, the casbin model and
rules as text) and keeps what it read per file *signature*, ``(mtime_ns, size, inode)``:
an edited file (an editor's save, a deploy's rename, ``cdp access reload``) is read again
on the next call; an unchanged one is not parsed twice. A file written in the last two
seconds is compared by content too, since a second edit in the same timestamp tick can
leave its signature as it was. Capabilities build their typed settings with
``load(key, build)``: the result is kept until one of the files, or one of the directory
listings, that ``build`` read changes. Nothing here is module-global: the
platform owns one ``PolicyFiles`` (``platform.policies``), each ingest worker process builds
its own from the same directory, and two platforms on different directories share nothing.

A file that is not valid TOML raises :class:`PolicyFileError` naming the file and the line.
"""

from __future__ import annotations

import copy
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cdp.errors import CdpError

T = TypeVar("T")
# (mtime_ns, size, inode) of a file; None when the file does not exist.
Signature = tuple[int, int, int] | None
_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
# A name inside the policy directory: relative, no parent steps.
_SAFE = re.compile(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*(\.[A-Za-z0-9]+)?")
_MAX_PATHS = 1024


class PolicyFileError(CdpError):
    """A policy file is missing or unreadable; the message names the file (and the line).

    The operator's configuration is at fault, not the request: a server error with a clean
    JSON body over HTTP, a one-line error on the command line."""

    status = 500
    code = "policy_invalid"

    def __init__(self, file: str, reason: str, line: int | None = None):
        where = f"{file} line {line}" if line is not None else file
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.line = line


def _signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


# A file whose mtime is this close to the moment it was read may be written again within
# the same timestamp tick, at the same size, without its signature changing ("racy" in
# git's sense): until that moment is this far behind, its bytes are compared too.
RACY_NS = 2_000_000_000


@dataclass
class _File:
    signature: tuple[int, int, int]
    raw: bytes
    version: int  # a new number whenever the content differs
    read_at_ns: int
    document: Any = None  # the parsed TOML, or (reason, line) when it is not valid TOML

    def racy(self) -> bool:
        return self.signature[0] >= self.read_at_ns - RACY_NS


@dataclass
class _Loaded:
    # What the build read: file name -> content version (None: absent), and listings.
    files: dict[str, int | None]
    listings: dict[tuple[str, str], tuple[str, ...]]
    value: Any


class PolicyFiles:
    """The policy files of ``directory``, cached per file signature; thread-safe."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._lock = threading.RLock()
        self._files: dict[str, _File] = {}
        self._paths: dict[str, str] = {}
        self._versions = 0
        self._loaded: dict[str, _Loaded] = {}
        self._objects: dict[str, Any] = {}
        self._reading = threading.local()
        # How many files were read, TOML documents parsed and typed settings built (tests
        # count them).
        self.reads = 0
        self.parses = 0
        self.builds = 0

    def __repr__(self) -> str:
        return f"PolicyFiles({str(self.directory)!r})"

    # -- files -----------------------------------------------------------------------------

    def path(self, name: str) -> Path:
        """The path of ``name`` (e.g. ``"crm.toml"``, ``"segments/vip.toml"``)."""
        return Path(self._where(name))

    def _where(self, name: str) -> str:
        where = self._paths.get(name)
        if where is None:
            if not _SAFE.fullmatch(name):
                raise PolicyFileError(name, "not a policy file name")
            where = os.path.join(self.directory, name)
            if len(self._paths) < _MAX_PATHS:  # bounded: names can come from requests
                self._paths[name] = where
        return where

    def _current(self, name: str) -> _File | None:
        """The cached content of ``name``, read again when its signature changed (or, for a
        racy file, when its bytes did); None when the file does not exist."""
        path = self._where(name)
        sig = _signature(path)
        hit = self._files.get(name)
        if sig is None:
            if hit is not None:
                with self._lock:
                    self._files.pop(name, None)
            return None
        if hit is not None and hit.signature == sig and not hit.racy():
            return hit
        with self._lock:
            hit = self._files.get(name)
            now = time.time_ns()
            try:
                with open(path, "rb") as fh:
                    raw = fh.read()
            except FileNotFoundError:
                self._files.pop(name, None)
                return None
            except OSError as exc:
                raise PolicyFileError(name, f"cannot be read ({type(exc).__name__})") from None
            self.reads += 1
            if hit is not None and hit.raw == raw:
                hit.signature, hit.read_at_ns = sig, now
                return hit
            self._versions += 1
            entry = _File(sig, raw, self._versions, now)
            self._files[name] = entry
            return entry

    def version(self, name: str) -> int | None:
        """A number that changes whenever the content of ``name`` does (None: no such file)."""
        entry = self._current(name)
        v = entry.version if entry is not None else None
        self._note_file(name, v)
        return v

    def signature(self, name: str) -> Signature:
        """(mtime_ns, size, inode) of ``name``; None when it does not exist."""
        return _signature(self._where(name))

    def exists(self, name: str) -> bool:
        return self.version(name) is not None

    def listing(self, folder: str, suffix: str = ".toml") -> list[str]:
        """The names of the files in ``folder`` ending in ``suffix``, sorted
        (``["segments/a.toml", ...]``); empty when there is no such folder."""
        names = self._list(folder, suffix)
        stack = getattr(self._reading, "stack", None)
        if stack:
            stack[-1].listings.setdefault((folder, suffix), names)
        return list(names)

    def _list(self, folder: str, suffix: str) -> tuple[str, ...]:
        try:
            return tuple(sorted(f"{folder}/{e.name}" for e in os.scandir(self.path(folder))
                                if e.name.endswith(suffix) and e.is_file()))
        except (FileNotFoundError, NotADirectoryError):
            return ()

    def _entry(self, name: str) -> _File:
        entry = self._current(name)
        self._note_file(name, entry.version if entry is not None else None)
        if entry is None:
            raise PolicyFileError(name, f"file not found in {self.directory}")
        return entry

    def text(self, name: str) -> str:
        """The text of ``name``; PolicyFileError when it is missing or not UTF-8."""
        try:
            return self._entry(name).raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyFileError(name, "not UTF-8 text") from None

    def document(self, name: str, default: dict[str, Any] | None = None) -> dict[str, Any]:
        """The parsed TOML document ``name`` (a copy the caller may change). A missing file
        gives ``default`` when one is given, else PolicyFileError."""
        if default is not None and not self.exists(name):
            return copy.deepcopy(default)
        entry = self._entry(name)
        if entry.document is None:
            with self._lock:
                if entry.document is None:
                    entry.document = self._parse(entry.raw)
        found = entry.document
        if isinstance(found, tuple):
            raise PolicyFileError(name, *found)
        return copy.deepcopy(found)

    def _parse(self, raw: bytes) -> dict[str, Any] | tuple[str, int | None]:
        self.parses += 1
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return "not UTF-8 text", None
        except tomllib.TOMLDecodeError as exc:
            m = _LINE.search(str(exc))
            return f"not valid TOML ({exc})", int(m.group(1)) if m else None

    # -- typed settings --------------------------------------------------------------------

    def load(self, key: str, build: Callable[[PolicyFiles], T]) -> T:
        """``build(self)``, kept until a file or listing it read changes. ``key`` names the
        result (one per kind of settings, e.g. ``"crm"``, ``"pii/storage"``). An error from
        ``build`` is not kept: the next call builds again (from the cached documents)."""
        hit = self._loaded.get(key)
        if hit is not None and self._unchanged(hit):
            self._merge_into_reader(hit)
            return hit.value
        with self._lock:
            hit = self._loaded.get(key)
            if hit is not None and self._unchanged(hit):
                self._merge_into_reader(hit)
                return hit.value
            record = _Loaded({}, {}, None)
            stack = getattr(self._reading, "stack", None)
            if stack is None:
                stack = self._reading.stack = []
            stack.append(record)
            try:
                self.builds += 1
                record.value = build(self)
            finally:
                stack.pop()
            self._loaded[key] = record
            self._merge_into_reader(record)
            return record.value

    def shared(self, key: str, make: Callable[[PolicyFiles], T]) -> T:
        """One object per ``PolicyFiles`` made by ``make(self)`` on first use: for a
        capability that keeps its own reload rules over these files (the access store)."""
        obj = self._objects.get(key)
        if obj is None:
            with self._lock:
                obj = self._objects.get(key)
                if obj is None:
                    obj = make(self)
                    self._objects[key] = obj
        return obj

    # -- what a build read -----------------------------------------------------------------

    def _note_file(self, name: str, version: int | None) -> None:
        stack = getattr(self._reading, "stack", None)
        if stack:
            stack[-1].files.setdefault(name, version)

    def _merge_into_reader(self, record: _Loaded) -> None:
        """A build that used another ``load`` depends on that one's files too."""
        stack = getattr(self._reading, "stack", None)
        if stack:
            for name, version in record.files.items():
                stack[-1].files.setdefault(name, version)
            for key, names in record.listings.items():
                stack[-1].listings.setdefault(key, names)

    def _unchanged(self, record: _Loaded) -> bool:
        for name, version in record.files.items():
            entry = self._current(name)
            if (entry.version if entry is not None else None) != version:
                return False
        return all(self._list(folder, suffix) == names
                   for (folder, suffix), names in record.listings.items())


_shared: dict[str, PolicyFiles] = {}
_shared_lock = threading.Lock()


def policy_files_for(directory: str | Path) -> PolicyFiles:
    """The process's ``PolicyFiles`` for ``directory``, for code that runs without a platform
    (``cdp pii scan``, the installation check); a platform uses its own."""
    key = os.path.abspath(directory)
    with _shared_lock:
        files = _shared.get(key)
        if files is None:
            files = _shared[key] = PolicyFiles(directory)
        return files
