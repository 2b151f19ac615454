"""SCIM errors (RFC 7644 §3.12): one class per scimType, each with its HTTP status."""
from __future__ import annotations

from connector.errors import ConnectorError
from connector.identity import Reason

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """An error answered in the SCIM error schema."""

    status = 400
    scim_type: str | None = None

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status

    def body(self) -> dict:
        out = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            out["scimType"] = self.scim_type
        return out


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class TooMany(ScimError):
    scim_type = "tooMany"


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"


class Mutability(ScimError):
    scim_type = "mutability"


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidVersion(ScimError):
    scim_type = "invalidVers"


class NotFound(ScimError):
    status = 404


class Unauthorized(ScimError):
    status = 401


class Forbidden(ScimError):
    status = 403


class PreconditionFailed(ScimError):
    status = 412


class PayloadTooLarge(ScimError):
    status = 413


# Pipeline rejection reasons, as SCIM errors: a taken identifier is a uniqueness conflict,
# a policy refusal is 403, anything about the value itself is invalidValue.
_UNIQUE = {Reason.EMAIL_TAKEN, Reason.USERNAME_TAKEN, Reason.DUPLICATE_IN_BATCH,
           Reason.AMBIGUOUS_MATCH}
_FORBIDDEN = {Reason.SEATS_FULL, Reason.SOURCE_NOT_ALLOWED, Reason.DOMAIN_NOT_ALLOWED,
              Reason.MANAGED_ELSEWHERE, Reason.ROLE_ESCALATION, Reason.ADMIN_LIMIT,
              Reason.USER_DEACTIVATED, Reason.MEMBER_DEACTIVATED}


def from_reason(reason: Reason | None, message: str) -> ScimError:
    """Translate a pipeline rejection."""
    if reason in _UNIQUE:
        return Uniqueness(message)
    if reason in _FORBIDDEN:
        return Forbidden(message)
    return InvalidValue(message)


def from_domain(err: ConnectorError) -> ScimError:
    """Translate a core domain error at the SCIM edge."""
    if err.status == 404:
        return NotFound(err.message)
    if err.status == 409:
        return Uniqueness(err.message) if err.code in ("conflict", "concurrent_conflict") \
            else ScimError(err.message, status=409)
    if err.status in (401, 403):
        cls = Unauthorized if err.status == 401 else Forbidden
        return cls(err.message)
    return InvalidValue(err.message)
