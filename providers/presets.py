"""Microsoft Entra ID, Google Workspace and Okta: the same OIDC code, different configuration
and claim checks. A preset never changes the protocol, only what the claims must say."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.errors import AuthenticationFailed, InvalidInput


def _true(value: Any) -> bool:
    # Some IdPs (older Okta orgs, AWS Cognito) send "true" as a string.
    return value is True or (isinstance(value, str) and value.lower() == "true")


@dataclass(frozen=True)
class Preset:
    name: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    groups_claims: tuple[str, ...] = ("groups",)
    issuer_hint: str = ""

    def external_id(self, claims: Mapping[str, Any]) -> str:
        """OIDC Core §5.7: only iss + sub identify a person; never the email."""
        return f"{claims['iss']}|{claims['sub']}"

    def email_verified(self, claims: Mapping[str, Any]) -> bool:
        return _true(claims.get("email_verified"))

    def check(self, claims: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        """Raise AuthenticationFailed when the claims break this preset's rules."""

    def validate_config(self, config: dict[str, Any]) -> None:
        """Raise InvalidInput for a connection this preset cannot run safely."""


class Microsoft(Preset):
    """Entra ID. The email claim is admin-editable and unverified ("nOAuth"): a person is keyed
    on (tid, oid), and email counts as verified only with the xms_edov optional claim."""

    def external_id(self, claims: Mapping[str, Any]) -> str:
        tid, oid = claims.get("tid"), claims.get("oid")
        if not tid or not oid:
            raise AuthenticationFailed("The Entra ID token lacks the tid or oid claim.",
                                       code="missing_claim")
        return f"{tid}:{oid}"

    def email_verified(self, claims: Mapping[str, Any]) -> bool:
        # Microsoft: "xms_edov" = email domain owner verified; absent unless configured.
        return bool(claims.get("email")) and (_true(claims.get("xms_edov"))
                                              or claims.get("xms_edov") in (1, "1"))

    def check(self, claims: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        allowed = config.get("allowed_tenants") or []
        if allowed and claims.get("tid") not in allowed:
            raise AuthenticationFailed("Your Microsoft tenant may not sign in here.",
                                       code="foreign_tenant")

    def validate_config(self, config: dict[str, Any]) -> None:
        issuer = config.get("issuer", "")
        multi = any(f"/{t}/" in issuer for t in ("common", "organizations", "consumers")) \
            or "{tenantid}" in issuer
        if multi and not config.get("allowed_tenants"):
            raise InvalidInput("A multi-tenant Entra ID connection needs --tenant for each "
                               "allowed tenant id.", code="tenants_required")


class Google(Preset):
    """Google Workspace: the hd claim names the Workspace domain; consumer accounts lack it."""

    def check(self, claims: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        allowed = config.get("hosted_domains") or []
        if claims.get("hd") not in allowed:
            raise AuthenticationFailed("This Google account is not from the organization's "
                                       "Google Workspace domain.", code="wrong_hosted_domain")

    def validate_config(self, config: dict[str, Any]) -> None:
        if not config.get("hosted_domains"):
            raise InvalidInput("A Google Workspace connection needs --domain (the hd value).",
                               code="hosted_domain_required")


PRESETS: dict[str, Preset] = {
    "generic": Preset("generic"),
    "microsoft": Microsoft("microsoft", groups_claims=("groups", "roles"),
                           issuer_hint="https://login.microsoftonline.com/<tenant-id>/v2.0"),
    "google": Google("google", issuer_hint="https://accounts.google.com"),
    "okta": Preset("okta", scopes=("openid", "email", "profile", "groups"),
                   issuer_hint="https://<your-org>.okta.com"),
}


def require_preset(name: str | None) -> Preset:
    """The preset called ``name`` (default generic)."""
    preset = PRESETS.get(name or "generic")
    if preset is None:
        raise InvalidInput(f"Unknown preset {name!r}; choose {', '.join(PRESETS)}.",
                           code="unknown_preset")
    return preset
