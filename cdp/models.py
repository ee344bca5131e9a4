"""Import every capability's models so ``Base.metadata`` is complete (Alembic, tests)."""

from cdp.access.models import ApiKey, BreakGlassGrant  # noqa: F401
from cdp.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent  # noqa: F401
from cdp.console.models import ConsoleSession, ConsoleUser  # noqa: F401
from cdp.crm.models import (  # noqa: F401
    CareTask,
    Complaint,
    ComplaintEvent,
    CrmProfile,
    LoyaltyAccount,
    LoyaltyEntry,
    ModelFit,
    SegmentMember,
)
from cdp.crypto.models import DataKey  # noqa: F401
from cdp.db import Base
from cdp.exports.models import ExportRun  # noqa: F401
from cdp.identity.models import (  # noqa: F401
    Consent,
    Customer,
    Identifier,
    IdentityLink,
    Interaction,
    LineageEvent,
    MatchKey,
    SourceRecord,
)
from cdp.jobs.models import JobRun, SchedulerJob  # noqa: F401
from cdp.rights.models import DsrRequest, RetainedRecord  # noqa: F401

metadata = Base.metadata
