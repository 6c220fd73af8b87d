"""SQLAlchemy rows, one module per resource; importing this package registers every table."""

from app.models.audit import AuditRecord
from app.models.events import GovernanceEvent
from app.models.jobs import Job, JobLog, JobTransition, new_id

__all__ = ["AuditRecord", "GovernanceEvent", "Job", "JobLog", "JobTransition", "new_id"]
