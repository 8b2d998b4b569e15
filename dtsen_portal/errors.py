"""Errors raised by services; views and the API turn them into messages and status codes.

Services never raise HTTP or DRF errors, so the browser, the API, tasks and commands share them.
"""


class ServiceError(Exception):
    """A refused operation, with a message fit to show the user (already translated)."""

    code = "refused"

    def __init__(self, message: str, *, code: str | None = None, field_errors: dict | None = None,
                 details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field_errors = field_errors or {}
        self.details = details or {}  # what a program needs to act on the error (duplicate candidates, say)


class NotInScope(ServiceError):
    """The object lies outside the actor's area: shown to users as 'not found'."""

    code = "not_found"


class NotAllowed(ServiceError):
    """The actor's role may not do this."""

    code = "permission_denied"


class InvalidState(ServiceError):
    """The object is not in a state that allows this."""

    code = "invalid_state"


class Conflict(ServiceError):
    """Someone else changed the object first (optimistic locking)."""

    code = "conflict"
