"""Typed service errors: each carries its HTTP status and error code."""

from __future__ import annotations

from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

# A store that does not answer right now: the database, or the broker and Redis. These
# are transient, not faults of the request: the API answers 503 with Retry-After, the
# worker tries again rather than acking work away.
DATABASE_OUTAGES = (OperationalError, DisconnectionError, InterfaceError)
STORE_OUTAGES = (*DATABASE_OUTAGES, BrokerOperationalError, RedisConnectionError,
                 RedisTimeoutError)
RETRY_AFTER_SECONDS = 5


class ServiceError(Exception):
    """Base of every error the service layer raises on purpose."""

    status = 400
    code = "bad_request"
    denial = False  # a refusal of the caller itself: audited as `denied` whatever the status

    def __init__(self, message: str, details: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class Unauthenticated(ServiceError):
    status, code = 401, "unauthenticated"


class InvalidIdentity(ServiceError):
    """An identity or audit header outside its bound (`app.identity`): refused, never cut."""

    status, code = 400, "invalid_identity"
    denial = True


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class ValidationFailed(ServiceError):
    status, code = 422, "validation_failed"


class PreconditionFailed(ServiceError):
    status, code = 412, "precondition_failed"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class QuotaExceeded(ServiceError):
    status, code = 429, "quota_exceeded"


class Unavailable(ServiceError):
    status, code = 503, "unavailable"


class ServiceUnavailable(ServiceError):
    """A backing store (database, broker) does not answer: transient, retry shortly."""

    status, code = 503, "service_unavailable"


class ArtifactMissing(ServiceError):
    """An artifact's stored bytes are gone from the object store."""

    status, code = 502, "artifact_missing"


class ArtifactCorrupt(ServiceError):
    """An artifact's stored bytes no longer match its digest."""

    status, code = 502, "artifact_corrupt"


class InsufficientStorage(ServiceError):
    status, code = 507, "insufficient_storage"
