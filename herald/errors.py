"""Domain errors. Adapters translate them: the API into problem+json, activities into ApplicationError."""

from __future__ import annotations


class HeraldError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(HeraldError):
    status = 404
    title = "Not found"


class Conflict(HeraldError):
    status = 409
    title = "Conflict"


class Forbidden(HeraldError):
    status = 403
    title = "Forbidden"


class Unauthorized(HeraldError):
    status = 401
    title = "Unauthorized"


class StillRunning(HeraldError):
    status = 504
    title = "Still running"


class TooManyRequests(HeraldError):
    status = 429
    title = "Too many requests"


class PayloadTooLarge(HeraldError):
    status = 413
    title = "Payload too large"


class InvalidInput(HeraldError):
    status = 422
    title = "Invalid input"
