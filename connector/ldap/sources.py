"""Directory sources of an organization: add, change, list, remove, and the provider config."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from providers.ldap import DirectoryConfig
from providers.ldap_schema import PRESETS

from .. import secretbox
from ..db import utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..events import record
from ..identity import Actor, Source
from ..models import Organization
from ..roles import RANKS
from .models import LdapRun, LdapSource

# Fields an administrator sets (password handled apart: it is sealed, never shown).
FIELDS = ("name", "urls", "start_tls", "tls_verify", "ca_file", "bind_dn", "base_dn", "scope",
          "preset", "user_filter", "mapping", "group_kind", "group_base", "group_filter",
          "group_roles", "group_sub_orgs", "page_size", "interval_minutes",
          "max_deactivate_percent", "enabled", "allow_signin", "ignore_referrals")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str, "urls": list, "start_tls": bool, "tls_verify": bool, "ca_file": (str, type(None)),
    "bind_dn": str, "base_dn": str, "scope": str, "preset": str, "user_filter": str,
    "mapping": dict, "group_kind": str, "group_base": str, "group_filter": str,
    "group_roles": dict, "group_sub_orgs": dict, "page_size": int, "interval_minutes": int,
    "max_deactivate_percent": (int, float, type(None)), "enabled": bool, "allow_signin": bool,
    "ignore_referrals": bool}


def directory_config(source: LdapSource, *, secret_key: str | None = None) -> DirectoryConfig:
    """The provider's view of a source, with the bind password decrypted."""
    return DirectoryConfig(
        urls=tuple(source.urls or ()), base_dn=source.base_dn, bind_dn=source.bind_dn or "",
        password=secretbox.open(source.bind_password_sealed or "", secret_key=secret_key),
        start_tls=source.start_tls, tls_verify=source.tls_verify, ca_file=source.ca_file,
        scope=source.scope, preset=source.preset, user_filter=source.user_filter or "",
        mapping=dict(source.mapping or {}), group_kind=source.group_kind,
        group_base=source.group_base or "", group_filter=source.group_filter or "",
        page_size=source.page_size, ignore_referrals=bool(source.ignore_referrals))


def _check(session: Session, org: Organization, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key not in _TYPES:
            raise InvalidInput(f"Unknown field {key!r}.", code="unknown_field")
        if not isinstance(value, _TYPES[key]) or (isinstance(value, bool)
                                                  and _TYPES[key] in (int, (int, float, type(None)))):
            raise InvalidInput(f"Field {key!r} has the wrong type.", code="invalid_field")
    if "preset" in data and data["preset"] not in PRESETS:
        raise InvalidInput(f"Preset is one of {', '.join(PRESETS)}.", code="ldap_unknown_preset")
    for group, role in (data.get("group_roles") or {}).items():
        if role not in RANKS or role == "owner":
            raise InvalidInput(f"Group {group!r}: role must be admin, staff or member.",
                               code="unknown_role")
    subs = data.get("group_sub_orgs") or {}
    if subs:
        found = set(session.scalars(select(Organization.account).where(
            Organization.account.in_(list(subs.values())), Organization.deleted_at.is_(None),
            Organization.path.like(org.path + "%"), Organization.id != org.id)))
        missing = sorted(set(subs.values()) - found)
        if missing:
            raise InvalidInput(f"Not sub-organizations of {org.account}: {', '.join(missing)}.",
                               code="unknown_sub_organization")
    pct = data.get("max_deactivate_percent")
    if pct is not None and not 0 <= pct <= 100:
        raise InvalidInput("max_deactivate_percent is 0 to 100.", code="invalid_field")
    if data.get("interval_minutes", 0) < 0:
        raise InvalidInput("interval_minutes is 0 (manual) or more.", code="invalid_field")


def _fold_keys(d: dict[str, str]) -> dict[str, str]:
    return {k.strip().lower(): v for k, v in d.items()}


def add_source(session: Session, org: Organization, data: dict[str, Any], *, actor: Actor,
               password: str | None = None) -> LdapSource:
    """Create a source after validating it as the provider will use it."""
    data = dict(data)
    password = data.pop("bind_password", password)
    if not data.get("name") or not data.get("base_dn") or not data.get("urls"):
        raise InvalidInput("A source needs name, urls and base_dn.", code="missing_field")
    _check(session, org, data)
    if session.scalar(select(LdapSource.id).where(LdapSource.organization_id == org.id,
                                                  LdapSource.name == data["name"])):
        raise Conflict(f"{org.account} already has a directory source {data['name']!r}.",
                       code="ldap_source_exists")
    source = LdapSource(organization_id=org.id, **{k: v for k, v in data.items() if k in FIELDS})
    for k in ("group_roles", "group_sub_orgs"):
        setattr(source, k, _fold_keys(data.get(k) or {}))
    source.bind_password_sealed = secretbox.seal(str(password or ""))
    _defaults(source)
    directory_config(source).validate()
    session.add(source)
    session.flush()
    record(session, org.id, "ldap_source.created", source=Source.LDAP, actor=actor.label,
           target_type="ldap_source", target_id=source.id, name=source.name)
    return source


def _defaults(source: LdapSource) -> None:
    for key, value in (("start_tls", False), ("tls_verify", True), ("scope", "subtree"),
                       ("preset", "openldap"), ("user_filter", ""), ("mapping", {}),
                       ("group_kind", "none"), ("group_base", ""), ("group_filter", ""),
                       ("page_size", 500), ("interval_minutes", 60), ("enabled", True),
                       ("bind_dn", ""), ("allow_signin", False),
                       ("ignore_referrals", False)):
        if getattr(source, key) is None:
            setattr(source, key, value)


def update_source(session: Session, org: Organization, source: LdapSource, data: dict[str, Any],
                  *, actor: Actor) -> LdapSource:
    """Change fields; a new bind password replaces the sealed one."""
    data = dict(data)
    password = data.pop("bind_password", None)
    _check(session, org, data)
    for k, v in data.items():
        setattr(source, k, _fold_keys(v) if k in ("group_roles", "group_sub_orgs") else v)
    if password is not None:
        source.bind_password_sealed = secretbox.seal(str(password))
    directory_config(source).validate()
    source.updated_at = utcnow()
    record(session, org.id, "ldap_source.updated", source=Source.LDAP, actor=actor.label,
           target_type="ldap_source", target_id=source.id,
           fields=sorted(set(data) | ({"bind_password"} if password is not None else set())))
    return source


def list_sources(session: Session, org: Organization) -> list[LdapSource]:
    return list(session.scalars(select(LdapSource).where(LdapSource.organization_id == org.id)
                                .order_by(LdapSource.id)))


def require_source(session: Session, org: Organization, ref: str | int) -> LdapSource:
    """A source of ``org`` by id or name (another tenant's source is simply not found)."""
    q = select(LdapSource).where(LdapSource.organization_id == org.id)
    ref_s = str(ref)
    q = q.where(LdapSource.id == int(ref_s)) if ref_s.isdigit() else q.where(LdapSource.name == ref_s)
    source = session.scalar(q)
    if source is None:
        raise NotFound(f"No directory source {ref!r} in {org.account}.", code="ldap_source_not_found")
    return source


def remove_source(session: Session, org: Organization, source: LdapSource, *,
                  actor: Actor) -> None:
    """Delete the source and its run reports; members it brought in stay (deprovision first)."""
    record(session, org.id, "ldap_source.deleted", source=Source.LDAP, actor=actor.label,
           target_type="ldap_source", target_id=source.id, name=source.name)
    session.query(LdapRun).filter(LdapRun.source_id == source.id).delete()
    session.delete(source)


def list_runs(session: Session, source: LdapSource, limit: int = 20) -> list[LdapRun]:
    return list(session.scalars(select(LdapRun).where(LdapRun.source_id == source.id)
                                .order_by(LdapRun.id.desc()).limit(max(1, min(limit, 200)))))


def require_run(session: Session, source: LdapSource, run_id: int) -> LdapRun:
    run = session.scalar(select(LdapRun).where(LdapRun.source_id == source.id,
                                               LdapRun.id == run_id))
    if run is None:
        raise NotFound(f"No run {run_id} of this source.", code="ldap_run_not_found")
    return run


def iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def serialize(source: LdapSource) -> dict[str, Any]:
    """JSON shape; the password is never returned, only whether one is set."""
    out = {k: getattr(source, k) for k in FIELDS}
    out.update(id=source.id, has_bind_password=bool(source.bind_password_sealed),
               watermark=source.watermark, last_run_at=iso(source.last_run_at),
               last_success_at=iso(source.last_success_at),
               last_full_at=iso(source.last_full_at), created_at=iso(source.created_at))
    return out


def serialize_run(run: LdapRun) -> dict[str, Any]:
    return {"id": run.id, "source_id": run.source_id, "full": run.full, "dry_run": run.dry_run,
            "status": run.status, "phase": run.phase, "progress": run.progress,
            "counts": run.counts or {}, "errors": run.errors or [], "message": run.message,
            "actor": run.actor, "created_at": iso(run.created_at),
            "started_at": iso(run.started_at), "finished_at": iso(run.finished_at)}
