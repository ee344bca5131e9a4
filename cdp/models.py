"""Import every capability's models so ``Base.metadata`` is complete (Alembic, tests)."""

from cdp.access.models import ApiKey  # noqa: F401
from cdp.audit.models import AuditEvent  # noqa: F401
from cdp.crypto.models import DataKey  # noqa: F401
from cdp.db import Base
from cdp.identity.models import (  # noqa: F401
    Consent,
    Customer,
    IdentityLink,
    Identifier,
    Interaction,
    LineageEvent,
    MatchKey,
    SourceRecord,
)

metadata = Base.metadata
