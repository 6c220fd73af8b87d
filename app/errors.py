"""Typed service errors: each carries its HTTP status and error code."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the service layer raises on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class Unauthenticated(ServiceError):
    status, code = 401, "unauthenticated"


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
