"""The keyring file: versioned key-encryption keys, the blind-index root, the signing key.

The file is JSON, mode 0600. The service refuses a keyring that group or others can read,
because anyone who reads it can open every field in the database.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cdp.errors import KeyringError

FORMAT_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def hkdf(root: bytes, info: str, length: int = 32) -> bytes:
    """Derive a sub-key from ``root`` for one named purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info.encode()).derive(
        root
    )


@dataclass
class Keyring:
    """Key material held in memory for one process."""

    keks: dict[int, bytes]
    current_kek: int
    index_root: bytes
    pseudonym_root: bytes
    signing_seed: bytes
    path: str | None = None
    _derived: dict[str, bytes] = field(default_factory=dict, repr=False)
    # The file's (inode, size, mtime) when last read: a rotation by another process replaces
    # the file (a new inode), and the next wrapping key must be the new one.
    _signature: tuple[int, int, int] | None = field(default=None, repr=False)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def generate(cls) -> Keyring:
        return cls(
            keks={1: os.urandom(32)},
            current_kek=1,
            index_root=os.urandom(32),
            pseudonym_root=os.urandom(32),
            signing_seed=os.urandom(32),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        p = Path(path)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise KeyringError(f"keyring not found at {p}; run `cdp init`") from None
        if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(
                f"keyring {p} is readable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
                "run `chmod 600` on it"
            )
        try:
            data = json.loads(p.read_text())
            if data.get("format") != FORMAT_VERSION:
                raise ValueError("unknown keyring format")
            ring = cls(
                keks={int(v): _unb64(k) for v, k in data["kek"]["keys"].items()},
                current_kek=int(data["kek"]["current"]),
                index_root=_unb64(data["index_root"]),
                pseudonym_root=_unb64(data["pseudonym_root"]),
                signing_seed=_unb64(data["signing_key"]),
                path=str(p),
                _signature=_file_signature(st),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"keyring {p} is malformed: {type(exc).__name__}") from None
        if ring.current_kek not in ring.keks:
            raise KeyringError(f"keyring {p} names a current key it does not hold")
        return ring

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """Write atomically with mode 0600."""
        target = Path(path or self.path or "var/keyring.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT_VERSION,
            "kek": {"current": self.current_kek, "keys": {str(v): _b64(k) for v, k in self.keks.items()}},
            "index_root": _b64(self.index_root),
            "pseudonym_root": _b64(self.pseudonym_root),
            "signing_key": _b64(self.signing_seed),
        }
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".keyring-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh, indent=2)
            os.replace(tmp, target)
            self._signature = _file_signature(os.stat(target))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.path = str(target)
        return self.path

    # -- keys -----------------------------------------------------------------------------
    def wrapping_version(self) -> int:
        """The version new data keys must be wrapped under: the current one in the file.

        A long-running process (a gunicorn worker, an ingest) would otherwise go on wrapping
        under the key-encryption key that `cdp keys rotate` in another process has just retired.
        One stat call per new data key; the file is re-read only when it was replaced.
        """
        if self.path:
            try:
                signature = _file_signature(os.stat(self.path))
            except OSError:
                return self.current_kek  # the file moved away: keep what we hold
            if signature != self._signature:
                fresh = Keyring.load(self.path)
                if fresh.index_root != self.index_root:
                    raise KeyringError(f"keyring {self.path} was replaced by a different keyring")
                self.keks.update(fresh.keks)
                self.current_kek = fresh.current_kek
                self._signature = fresh._signature
        return self.current_kek

    def kek(self, version: int) -> bytes:
        key = self.keks.get(version)
        if key is None and self.path:
            # Another process rotated: pick up the new key-encryption key from the file.
            self.wrapping_version()
            key = self.keks.get(version)
        if key is None:
            raise KeyringError(f"key-encryption key version {version} is not in the keyring")
        return key

    def add_kek(self) -> int:
        """Add a new key-encryption key and make it current. Returns its version."""
        version = max(self.keks) + 1
        self.keks[version] = os.urandom(32)
        self.current_kek = version
        return version

    def derived(self, info: str) -> bytes:
        """A key derived from the blind-index root for one purpose (cached)."""
        key = self._derived.get(info)
        if key is None:
            key = hkdf(self.index_root, info)
            self._derived[info] = key
        return key

    def index_key(self, kind: str) -> bytes:
        """The blind-index key for one identifier type or match key kind."""
        return self.derived(f"cdp/blind-index/{kind}")

    def pseudonym_key(self, scope: str) -> bytes:
        """A keyed-pseudonym key for one scope (an export recipient, a PII operator)."""
        return hkdf(self.pseudonym_root, f"cdp/pseudonym/{scope}")

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        return _signing_key(self.signing_seed)

    @property
    def verify_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    def verify_key_bytes(self) -> bytes:
        return self.verify_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _file_signature(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _signing_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_or_create(path: str) -> tuple[Keyring, bool]:
    """Load the keyring at ``path``, creating it if absent. Returns (keyring, created)."""
    if Path(path).exists():
        return Keyring.load(path), False
    ring = Keyring.generate()
    ring.save(path)
    return ring, True
