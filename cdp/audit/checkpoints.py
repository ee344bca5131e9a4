"""Signed checkpoints: every chain's head at one moment, signed with Ed25519.

The statement is canonical JSON; its signature is made with the keyring's signing key and
checked with the public key alone, so a checkpoint kept outside the database (printed by
``cdp audit checkpoint``) lets anyone holding the public key prove later that no entry up
to those heads was changed, removed or reordered, and that no tail was cut.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cdp.audit.models import AuditCheckpoint, AuditEvent
from cdp.db import utcnow


def public_key_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def load_public_key(hex_or_b64: str) -> Ed25519PublicKey:
    text = hex_or_b64.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = base64.b64decode(text)
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint as a verifier holds it: the signed statement and its signature."""

    statement: str
    signature: bytes
    label: str = "checkpoint"

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.statement)

    def heads(self) -> dict[int, tuple[int, str]]:
        return {int(c): (int(h[0]), str(h[1])) for c, h in self.body["heads"].items()}

    def valid_under(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(self.signature, self.statement.encode())
            return True
        except InvalidSignature:
            return False

    def to_json(self) -> dict[str, Any]:
        return {"statement": self.statement, "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_json(
        cls, data: dict[str, Any], label: str = "external checkpoint"
    ) -> SignedCheckpoint:
        return cls(
            statement=data["statement"], signature=base64.b64decode(data["signature"]), label=label
        )


def current_heads(session: Session) -> dict[int, tuple[int, str]]:
    """(seq, entry_hash) of the last committed entry of each chain."""
    latest = (
        select(AuditEvent.chain, func.max(AuditEvent.seq).label("seq"))
        .group_by(AuditEvent.chain)
        .subquery()
    )
    rows = session.execute(
        select(AuditEvent.chain, AuditEvent.seq, AuditEvent.entry_hash).join(
            latest, (AuditEvent.chain == latest.c.chain) & (AuditEvent.seq == latest.c.seq)
        )
    )
    return {int(c): (int(s), h) for c, s, h in rows}


def create_checkpoint(session: Session, signing_key: Ed25519PrivateKey) -> AuditCheckpoint:
    """Sign and store the current heads of every chain (flushes)."""
    heads = current_heads(session)
    at = utcnow()
    pub = public_key_hex(signing_key.public_key())
    body = {
        "at": at.isoformat(),
        "entry_count": sum(seq for seq, _ in heads.values()),
        "heads": {str(c): [seq, h] for c, (seq, h) in sorted(heads.items())},
        "public_key": pub,
        "type": "cdp-audit-checkpoint/1",
    }
    statement = json.dumps(body, sort_keys=True, separators=(",", ":"))
    row = AuditCheckpoint(
        at=at,
        heads=body["heads"],
        entry_count=body["entry_count"],
        statement=statement,
        signature=signing_key.sign(statement.encode()),
        public_key=pub,
    )
    session.add(row)
    session.flush()
    return row


def stored_checkpoints(session: Session) -> list[SignedCheckpoint]:
    return [
        SignedCheckpoint(statement=r.statement, signature=r.signature, label=f"checkpoint {r.id}")
        for r in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
    ]
