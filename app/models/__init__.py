"""SQLAlchemy rows, one module per resource; importing this package registers every table."""

from app.models.artifacts import Artifact, ArtifactManifest
from app.models.events import GovernanceEvent
from app.models.jobs import Job, JobLog, JobTransition, new_id

__all__ = ["Artifact", "ArtifactManifest", "GovernanceEvent", "Job", "JobLog", "JobTransition",
           "new_id"]
