"""Verified email domains of an organization: added by an admin, proven by a DNS TXT record
(or vouched for by the platform operator). SSO auto-join trusts exactly these."""
from __future__ import annotations

import secrets

import dns.exception
import dns.resolver
from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import utcnow
from .errors import Conflict, InvalidInput, NotFound
from .events import record
from .identity import Actor
from .models import Organization, OrganizationDomain

TXT_PREFIX = "connector-verification="
# Mailbox providers anyone can sign up at: owning an address there proves nothing about a
# company, so no organization may claim these domains.
PUBLIC_MAIL_DOMAINS = frozenset("""
gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk live.com msn.com yahoo.com
yahoo.co.uk yahoo.fr ymail.com icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me
gmx.com gmx.de gmx.net web.de mail.com yandex.ru yandex.com qq.com 163.com 126.com zoho.com
fastmail.com hey.com tutanota.com mail.ru orange.fr free.fr t-online.de comcast.net
""".split())


def normalize_domain(domain: str) -> str:
    """Lower-case IDNA form; refuses what is not a registrable-looking host name."""
    d = (domain or "").strip().rstrip(".").lower()
    try:
        d = d.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(f"{domain!r} is not a domain name.", code="invalid_domain") from None
    labels = d.split(".")
    if len(labels) < 2 or len(d) > 253 or not all(
            0 < len(p) <= 63 and p.replace("-", "").isalnum() and not p.startswith("-")
            and not p.endswith("-") for p in labels):
        raise InvalidInput(f"{domain!r} is not a domain name.", code="invalid_domain")
    if d in PUBLIC_MAIL_DOMAINS:
        raise InvalidInput(f"{d} is a public mail domain; anyone can have an address there.",
                           code="public_domain")
    return d


def list_domains(session: Session, org: Organization) -> list[OrganizationDomain]:
    return list(session.scalars(select(OrganizationDomain).where(
        OrganizationDomain.organization_id == org.id).order_by(OrganizationDomain.domain)))


def get_domain(session: Session, org: Organization, domain: str) -> OrganizationDomain | None:
    return session.scalar(select(OrganizationDomain).where(
        OrganizationDomain.organization_id == org.id,
        OrganizationDomain.domain == normalize_domain(domain)))


def require_domain(session: Session, org: Organization, domain: str) -> OrganizationDomain:
    found = get_domain(session, org, domain)
    if found is None:
        raise NotFound(f"{domain} is not a domain of {org.account}.", code="domain_not_found")
    return found


def _verified_elsewhere(session: Session, org: Organization, domain: str) -> bool:
    """A domain is verified for one organization tree only."""
    others = session.scalars(select(Organization).join(
        OrganizationDomain, OrganizationDomain.organization_id == Organization.id).where(
        OrganizationDomain.domain == domain, OrganizationDomain.verified_at.is_not(None),
        Organization.id != org.id, Organization.deleted_at.is_(None))).all()
    return any(o.root_id != org.root_id for o in others)


def add_domain(session: Session, org: Organization, domain: str, *, actor: Actor,
               verified: bool = False) -> OrganizationDomain:
    """Add ``domain`` (idempotent); ``verified`` is the platform operator's override."""
    d = normalize_domain(domain)
    row = get_domain(session, org, d)
    if row is None:
        row = OrganizationDomain(organization_id=org.id, domain=d,
                                 verification_token=secrets.token_urlsafe(24))
        session.add(row)
        session.flush()
        record(session, org.id, "domain.added", source="manual", actor=actor.label,
               target_type="domain", target_id=d)
    if verified and row.verified_at is None:
        _mark_verified(session, org, row, actor, method="operator")
    return row


def _mark_verified(session: Session, org: Organization, row: OrganizationDomain, actor: Actor,
                   method: str) -> None:
    if _verified_elsewhere(session, org, row.domain):
        raise Conflict(f"{row.domain} is already verified by another organization.",
                       code="domain_taken")
    row.verified_at = utcnow()
    record(session, org.id, "domain.verified", source="manual", actor=actor.label,
           target_type="domain", target_id=row.domain, method=method)


def txt_record(row: OrganizationDomain) -> str:
    """The TXT value an admin publishes at the domain's apex."""
    return TXT_PREFIX + row.verification_token


def _resolver() -> dns.resolver.Resolver:
    conf = current_app.config if has_app_context() else {}
    servers = conf.get("DNS_NAMESERVERS") or []
    if isinstance(servers, str):
        servers = [s.strip() for s in servers.split(",") if s.strip()]
    if not servers:
        return dns.resolver.Resolver()
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = list(servers)
    r.port = int(conf.get("DNS_PORT") or 53)
    return r


def verify_domain(session: Session, org: Organization, domain: str, *,
                  actor: Actor) -> OrganizationDomain:
    """Look up TXT records of the domain; verified when one holds our token."""
    row = require_domain(session, org, domain)
    if row.verified_at is not None:
        return row
    resolver = _resolver()
    resolver.lifetime = 5.0
    try:
        answer = resolver.resolve(row.domain, "TXT")
        values = {b"".join(r.strings).decode("utf-8", "replace") for r in answer}
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        values = set()
    except dns.exception.DNSException:
        raise InvalidInput(f"DNS lookup of {row.domain} failed; try again later.",
                           code="dns_error") from None
    if txt_record(row) not in values:
        raise InvalidInput(f"No TXT record \"{txt_record(row)}\" found at {row.domain}.",
                           code="txt_record_missing")
    _mark_verified(session, org, row, actor, method="dns")
    return row


def domain_dict(row: OrganizationDomain) -> dict:
    """JSON shape for the API and CLI."""
    from .api.serialize import iso
    return {"domain": row.domain, "verified": row.verified_at is not None,
            "verified_at": iso(row.verified_at), "txt_record": txt_record(row),
            "created_at": iso(row.created_at)}
