"""Request parsing: query strings and bodies validated into pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from cdp.errors import ValidationError


def parse(model: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` into ``model``; a 422 naming the fields (never their values)."""
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise ValidationError(f"invalid fields: {', '.join(fields)}", code="invalid") from None
