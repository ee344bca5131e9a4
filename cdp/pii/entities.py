"""The entity value type and the canonical entity names (docs/cli.md, "cdp pii scan")."""

from __future__ import annotations

from dataclasses import dataclass

PERSON = "PERSON"
PHONE_NUMBER = "PHONE_NUMBER"
EMAIL_ADDRESS = "EMAIL_ADDRESS"
CN_RESIDENT_ID = "CN_RESIDENT_ID"
CN_PASSPORT = "CN_PASSPORT"
BANK_CARD = "BANK_CARD"
LOCATION = "LOCATION"
IP_ADDRESS = "IP_ADDRESS"
HEALTH_TERM = "HEALTH_TERM"

CANONICAL_TYPES: tuple[str, ...] = (
    PERSON,
    PHONE_NUMBER,
    EMAIL_ADDRESS,
    CN_RESIDENT_ID,
    CN_PASSPORT,
    BANK_CARD,
    LOCATION,
    IP_ADDRESS,
    HEALTH_TERM,
)


@dataclass(frozen=True, slots=True)
class Entity:
    """One detected span: ``text[start:end]`` (character offsets) is of ``type``."""

    type: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, object]:
        return {"type": self.type, "start": self.start, "end": self.end,
                "score": round(self.score, 4)}
