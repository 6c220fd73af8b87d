"""SQLAlchemy rows, one module per resource; importing this package registers every table."""

from app.models.artifacts import Artifact, ArtifactManifest
from app.models.audit import AuditRecord
from app.models.events import GovernanceEvent
from app.models.identity import ApiKey
from app.models.jobs import Job, JobLog, JobState, JobTransition, new_id
from app.models.ops import SlowRequest
from app.models.periodic import PeriodicRun
from app.models.quotas import JobQuota, JobSubmissions, TenantQuota

__all__ = ["ApiKey", "Artifact", "ArtifactManifest", "AuditRecord", "GovernanceEvent", "Job",
           "JobLog", "JobQuota", "JobState", "JobSubmissions", "JobTransition", "PeriodicRun",
           "SlowRequest", "TenantQuota", "new_id"]
