"""OpenAPI entries for invite codes, invitations and webhooks (appended to openapi.ROUTES)."""
from __future__ import annotations

from typing import Any


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "string" if name == "account" else "integer"}}


def _q(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
            for n in names]


_A, _CODE, _INV = _path("account"), _path("code_id"), _path("invitation_id")
_HOOK, _DEL = _path("webhook_id"), _path("delivery_id")
_ORG = "/organizations/{account}"

# Same shape as openapi.ROUTES.
ROUTES = [
    (f"{_ORG}/invite-codes", "get", "List invite codes with use counts", "invites.manage", [_A],
     [], None, 200, "InviteCodeList"),
    (f"{_ORG}/invite-codes", "post", "Create an invite code (the code is shown once)",
     "invites.manage", [_A], [], "InviteCodeCreate", 201, "InviteCode"),
    (f"{_ORG}/invite-codes/{{code_id}}", "delete", "Revoke an invite code", "invites.manage",
     [_A, _CODE], [], None, 204, None),
    (f"{_ORG}/invite-codes/{{code_id}}/regenerate", "post",
     "Revoke a code and issue a new one with the same settings", "invites.manage",
     [_A, _CODE], [], None, 201, "InviteCode"),
    (f"{_ORG}/invitations", "get", "List invitations", "invites.manage", [_A],
     _q("status", "after", "limit"), None, 200, "InvitationList"),
    (f"{_ORG}/invitations", "post", "Invite one address or a list (emails queued in the same "
     "transaction)", "invites.manage", [_A], [], "InvitationCreate", 201, "InvitationResults"),
    (f"{_ORG}/invitations/{{invitation_id}}/resend", "post",
     "Send a fresh link (the old link stops working)", "invites.manage", [_A, _INV], [], None,
     200, "Invitation"),
    (f"{_ORG}/invitations/{{invitation_id}}", "delete", "Revoke an invitation",
     "invites.manage", [_A, _INV], [], None, 204, None),
    (f"{_ORG}/webhooks", "get", "List webhook endpoints", "webhooks.manage", [_A], [], None, 200,
     "WebhookList"),
    (f"{_ORG}/webhooks", "post", "Register a webhook endpoint (the secret is shown once)",
     "webhooks.manage", [_A], [], "WebhookCreate", 201, "Webhook"),
    (f"{_ORG}/webhooks/{{webhook_id}}", "delete", "Remove a webhook endpoint",
     "webhooks.manage", [_A, _HOOK], [], None, 204, None),
    (f"{_ORG}/webhooks/{{webhook_id}}/deliveries", "get", "Delivery log, newest first",
     "webhooks.manage", [_A, _HOOK], _q("limit"), None, 200, "WebhookDeliveryList"),
    (f"{_ORG}/webhooks/deliveries/{{delivery_id}}/redeliver", "post",
     "Queue a logged event again (same event id)", "webhooks.manage", [_A, _DEL], [], None,
     202, "Redelivery"),
]

_obj = lambda **props: {"type": "object", "properties": props}  # noqa: E731
_str, _int, _bool = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_nstr, _nint = {"type": "string", "nullable": True}, {"type": "integer", "nullable": True}
_strs = {"type": "array", "items": _str}


def _list(key: str, ref: str) -> dict[str, Any]:
    return _obj(**{key: {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}})


SCHEMAS: dict[str, Any] = {
    "InviteCode": _obj(id=_int, label=_str, hint=_str, code=_str, status=_str, role=_nstr,
                       sub_organization=_nstr, groups=_strs, allowed_domain=_nstr, uses=_int,
                       max_uses=_nint, expires_at=_str, created_by=_str, created_at=_str,
                       last_used_at=_nstr, revoked_at=_nstr),
    "InviteCodeList": _list("invite_codes", "InviteCode"),
    "InviteCodeCreate": _obj(label=_str, role=_str, sub_organization=_str, groups=_strs,
                             allowed_domain=_str, expires_days=_int, max_uses=_int),
    "Invitation": _obj(id=_int, email=_str, status={"type": "string", "enum": [
        "pending", "accepted", "expired", "revoked", "bounced"]}, role=_nstr,
        sub_organization=_nstr, groups=_strs, invited_by=_str, sent_count=_int,
        last_error=_str, created_at=_str, last_sent_at=_str, expires_at=_str,
        accepted_at=_nstr, accepted_user_id=_nint, revoked_at=_nstr),
    "InvitationList": {**_list("invitations", "Invitation"),
                       "properties": {**_list("invitations", "Invitation")["properties"],
                                      "next_after": _nint}},
    "InvitationCreate": _obj(email=_str, emails={"oneOf": [_strs, _str]}, role=_str,
                             sub_organization=_str, groups=_strs, message=_str,
                             expires_days={"type": "integer", "minimum": 1, "maximum": 30}),
    "InvitationResults": _obj(results={"type": "array", "items": _obj(
        email=_str, status={"type": "string", "enum": [
            "invited", "already_member", "invalid_email", "duplicate"]},
        invitation_id=_nint)}, counts={"type": "object"}),
    "Webhook": _obj(id=_int, url=_str, events=_strs, active=_bool, created_at=_str,
                    secret=_str),
    "WebhookList": _list("webhooks", "Webhook"),
    "WebhookCreate": {**_obj(url=_str, events=_strs), "required": ["url"]},
    "WebhookDelivery": _obj(id=_int, endpoint_id=_int, event_id=_str, event_type=_str,
                            attempt=_int, status_code=_nint, ok=_bool, error=_str,
                            duration_ms=_int, message_status=_nstr, created_at=_str),
    "WebhookDeliveryList": _list("deliveries", "WebhookDelivery"),
    "Redelivery": _obj(outbox_message_id=_int, status=_str),
}
