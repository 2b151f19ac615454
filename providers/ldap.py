"""LDAP / Active Directory protocol (ldap3): connect with StartTLS or LDAPS, paged search
(RFC 2696), groups, and the generator of directory records. Speaks protocol, never storage: it
yields ``Record``s (an ``Identity`` keyed on entryUUID / objectGUID) and raises domain errors."""
from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ldap3 import BASE, LEVEL, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPSocketOpenError, LDAPStartTLSError
from ldap3.core.results import RESULT_CODES
from ldap3.utils.conv import escape_filter_chars

from connector.errors import AuthenticationFailed, ConnectorError, InvalidInput

from .ldap_schema import (DEFAULT_USER_FILTERS, AttributeMap, GroupIndex, Record,
                          attribute_map, and_filter, build_group_index, check_filter,
                          equality_filter, in_chain_filter, normalize_dn, since_filter, text,
                          to_record)

PAGED_RESULTS = "1.2.840.113556.1.4.319"  # RFC 2696 control OID
MAX_PAGE_SIZE = 1000  # AD's MaxPageSize default; OpenLDAP accepts it too
SCOPES = {"base": BASE, "one": LEVEL, "subtree": SUBTREE}
GROUP_ATTRS = {"groupOfNames": ("member", False), "groupOfUniqueNames": ("uniqueMember", False),
               "posixGroup": ("memberUid", True), "ad_nested": ("", False),
               "memberOf": ("", False)}


class DirectoryError(ConnectorError):
    """The directory could not be reached or refused an operation."""

    code = "ldap_unavailable"
    status = 502


class DirectoryBindError(DirectoryError):
    """The directory refused the service account's bind (wrong DN or password)."""

    code = "ldap_bind_failed"


class DirectoryReadError(DirectoryError):
    """A search ended before every entry was read: whatever was read is incomplete."""

    code = "ldap_partial_read"


@dataclass(frozen=True)
class DirectoryConfig:
    """One directory as an organization configured it (password already decrypted)."""

    urls: tuple[str, ...]
    base_dn: str
    bind_dn: str = ""
    password: str = ""
    start_tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    scope: str = "subtree"
    preset: str = "openldap"
    user_filter: str = ""
    mapping: dict[str, Any] = field(default_factory=dict)
    group_kind: str = "none"
    group_base: str = ""
    group_filter: str = ""
    group_name_attr: str = "cn"
    page_size: int = 500
    timeout: float = 15.0
    # Continuation references (RFC 4511 section 4.5.3) point at entries held by another
    # server: by default a read that meets one is partial. AD answers some at a domain root
    # (DomainDnsZones, ForestDnsZones, Configuration) that hold no users: ignore them there.
    ignore_referrals: bool = False

    def attribute_map(self) -> AttributeMap:
        return attribute_map(self.preset, self.mapping)

    def users_filter(self) -> str:
        return check_filter(self.user_filter or DEFAULT_USER_FILTERS[self.preset], "user filter")

    def validate(self) -> DirectoryConfig:
        """Raise InvalidInput for a configuration that can never work."""
        if not self.urls:
            raise InvalidInput("Give at least one server URL.", code="ldap_invalid_url")
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
                raise InvalidInput(f"{url!r}: use ldap://host[:port] or ldaps://host[:port].",
                                   code="ldap_invalid_url")
            if parts.scheme == "ldaps" and self.start_tls:
                raise InvalidInput("StartTLS is for ldap:// URLs; ldaps:// is already TLS.",
                                   code="ldap_invalid_url")
        if self.scope not in SCOPES:
            raise InvalidInput(f"Scope is one of {', '.join(SCOPES)}.", code="ldap_invalid_scope")
        if self.group_kind not in GROUP_ATTRS and self.group_kind != "none":
            raise InvalidInput(f"Unknown group kind {self.group_kind!r}.",
                               code="ldap_invalid_group_kind")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"Page size is 1 to {MAX_PAGE_SIZE}.", code="ldap_invalid_page")
        self.attribute_map()
        self.users_filter()
        if self.group_filter:
            check_filter(self.group_filter, "group filter")
        return self


def _server(url: str, cfg: DirectoryConfig) -> Server:
    parts = urlsplit(url)
    secure = parts.scheme == "ldaps"
    tls = Tls(validate=ssl.CERT_REQUIRED if cfg.tls_verify else ssl.CERT_NONE,
              ca_certs_file=cfg.ca_file or None, version=ssl.PROTOCOL_TLS_CLIENT)
    return Server(parts.hostname, port=parts.port or (636 if secure else 389), use_ssl=secure,
                  tls=tls, get_info=NONE, connect_timeout=int(cfg.timeout))


def connect(cfg: DirectoryConfig, *, bind_dn: str | None = None,
            password: str | None = None) -> Connection:
    """Open, secure (StartTLS when asked) and bind; the first reachable URL wins."""
    last: Exception | None = None
    for url in cfg.urls:
        conn = Connection(_server(url, cfg), user=bind_dn if bind_dn is not None else cfg.bind_dn
                          or None, password=password if password is not None else cfg.password
                          or None, auto_bind="NONE", raise_exceptions=False,
                          receive_timeout=int(cfg.timeout), auto_referrals=False, read_only=True)
        try:
            conn.open()
            if cfg.start_tls:
                conn.start_tls()
        except LDAPSocketOpenError as err:
            if "ssl" in str(err).lower() or "certificate" in str(err).lower():
                # LDAPS certificate failure: a configuration problem, not a dead server.
                raise DirectoryError(f"TLS with {url} failed: {_short(err)}",
                                     code="ldap_tls_failed") from None
            last = err
            continue  # try the next server of the list
        except (LDAPStartTLSError, LDAPException) as err:
            _unbind(conn)
            # Certificate or TLS failure: never fall back to plain text.
            raise DirectoryError(f"TLS with {url} failed: {_short(err)}",
                                 code="ldap_tls_failed") from None
        try:
            ok = conn.bind()
        except LDAPException as err:
            _unbind(conn)
            raise DirectoryError(f"Bind to {url} failed: {_short(err)}") from None
        if not ok:
            result = conn.result or {}
            _unbind(conn)
            raise DirectoryBindError(f"The directory refused the bind "
                                     f"({result.get('description')}).")
        return conn
    raise DirectoryError(f"No directory server reachable ({_short(last)}).")


def _short(err: Exception | None) -> str:
    return str(err).splitlines()[0][:200] if err else "no server"


def _unbind(conn: Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing a broken socket may fail; nothing to do
        pass


def paged_search(conn: Connection, base: str, search_filter: str, attributes: list[str], *,
                 scope: str = "subtree", page_size: int = 500,
                 ignore_referrals: bool = False) -> Iterator[tuple[str, dict]]:
    """Yield (dn, raw attributes) page by page (RFC 2696): memory stays one page.

    ldap3 2.9.1 does not raise on sizeLimitExceeded even with raise_exceptions=True, so the
    result code of every page is checked: anything but success means a partial read."""
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    cookie: bytes | None = None
    while True:
        try:
            conn.search(base, search_filter, search_scope=SCOPES[scope], attributes=attributes,
                        paged_size=page_size, paged_cookie=cookie)
        except LDAPException as err:
            raise DirectoryReadError(f"The search under {base} failed: {_short(err)}") from None
        result = conn.result or {}
        code = result.get("result")
        if code != 0:
            # 4 sizeLimitExceeded, 3 timeLimitExceeded, 10 referral, 11 adminLimitExceeded...
            name = RESULT_CODES.get(code, str(code)) if isinstance(code, int) else str(code)
            raise DirectoryReadError(f"The search under {base} stopped early: {name}"
                                     f"{' - ' + result['message'] if result.get('message') else ''}.",
                                     result_code=code)
        for entry in conn.response or ():
            if entry.get("type") == "searchResEntry":
                yield entry["dn"], entry["raw_attributes"]
            elif entry.get("type") == "searchResRef" and not ignore_referrals:
                # Entries behind the reference were not read: never treat the read as whole.
                uris = ", ".join(entry.get("uri") or ()) or "another server"
                raise DirectoryReadError(f"The search under {base} met a referral to {uris}; "
                                         "its entries were not read.", result_code=10)
        conn.response = None  # let the page go before the next one arrives
        control = (result.get("controls") or {}).get(PAGED_RESULTS) or {}
        cookie = (control.get("value") or {}).get("cookie")
        if not cookie:
            return


def load_groups(conn: Connection, cfg: DirectoryConfig) -> GroupIndex | None:
    """Read the configured groups once per run; None when the source does not sync groups."""
    if cfg.group_kind == "none":
        return None
    base = cfg.group_base or cfg.base_dn
    member_attr, uids = GROUP_ATTRS[cfg.group_kind]
    default = {"groupOfNames": "(objectClass=groupOfNames)",
               "groupOfUniqueNames": "(objectClass=groupOfUniqueNames)",
               "posixGroup": "(objectClass=posixGroup)"}.get(cfg.group_kind, "(objectClass=group)")
    flt = check_filter(cfg.group_filter or default, "group filter")
    attrs = [cfg.group_name_attr] + ([member_attr] if member_attr else [])
    rows = []
    for gdn, raw in paged_search(conn, base, flt, attrs, scope="subtree",
                                 page_size=cfg.page_size, ignore_referrals=cfg.ignore_referrals):
        name = text(_values(raw, cfg.group_name_attr)) or gdn
        values = [v.decode("utf-8", "replace") for v in _values(raw, member_attr)] \
            if member_attr else []
        rows.append((gdn, name, values, uids))
    idx = build_group_index(rows)
    if cfg.group_kind == "ad_nested":
        # AD: ask the server for each group's transitive members (in-chain matching rule).
        amap = cfg.attribute_map()
        for gdn, name, _, _ in rows:
            flt = and_filter(cfg.users_filter(), in_chain_filter(gdn))
            for udn, _ in paged_search(conn, cfg.base_dn, flt, [amap.id], scope=cfg.scope,
                                       page_size=cfg.page_size,
                                       ignore_referrals=cfg.ignore_referrals):
                idx.by_dn.setdefault(normalize_dn(udn), set()).add(name)
    return idx


def _values(raw: dict, name: str) -> list:
    if not name:
        return []
    return next((v for k, v in raw.items() if k.lower() == name.lower()), [])


def records(conn: Connection, cfg: DirectoryConfig, *, since: str | None = None,
            groups: GroupIndex | None = None) -> Iterator[Record]:
    """Every user entry (or those changed since the watermark) as a ``Record``."""
    amap = cfg.attribute_map()
    flt = and_filter(cfg.users_filter(), since_filter(amap, since) if since else "")
    for dn, raw in paged_search(conn, cfg.base_dn, flt, amap.attributes(), scope=cfg.scope,
                                page_size=cfg.page_size, ignore_referrals=cfg.ignore_referrals):
        yield to_record(amap, dn, raw, groups)


def check_connection(cfg: DirectoryConfig, sample: int = 5) -> dict[str, Any]:
    """Bind, read a few users and the groups: what an admin checks before the first sync."""
    conn = connect(cfg.validate())
    try:
        found = []
        for rec in records(conn, cfg):
            found.append({"dn": rec.dn, "id": rec.identity.external_id,
                          "username": rec.identity.username, "email": rec.identity.email,
                          "disabled": rec.disabled})
            if len(found) >= sample:
                break
        groups = load_groups(conn, cfg)
        return {"ok": True, "tls": bool(conn.server.ssl or conn.tls_started), "sample": found,
                "groups": len(groups.names_by_dn) if groups else None}
    finally:
        _unbind(conn)


def authenticate(cfg: DirectoryConfig, login: str, password: str) -> Record:
    """LDAP bind sign-in: find the entry by username (escaped), then bind as it."""
    if not login or not password:
        # An empty password is an unauthenticated bind that "succeeds" (RFC 4513 section 5.1.2).
        raise AuthenticationFailed("Wrong username or password.", code="invalid_credentials")
    amap = cfg.attribute_map()
    conn = connect(cfg.validate())
    try:
        flt = and_filter(cfg.users_filter(), equality_filter(amap.username, login))
        found = list(paged_search(conn, cfg.base_dn, flt, amap.attributes(), scope=cfg.scope,
                                  page_size=2, ignore_referrals=cfg.ignore_referrals))
    finally:
        _unbind(conn)
    if len(found) != 1:
        raise AuthenticationFailed("Wrong username or password.", code="invalid_credentials")
    dn, raw = found[0]
    record = to_record(amap, dn, raw, None)
    if record.disabled:
        raise AuthenticationFailed("Wrong username or password.", code="invalid_credentials")
    try:
        user_conn = connect(cfg, bind_dn=dn, password=password)
    except DirectoryBindError:
        raise AuthenticationFailed("Wrong username or password.",
                                   code="invalid_credentials") from None
    _unbind(user_conn)
    return record


__all__ = ["DirectoryConfig", "DirectoryError", "DirectoryBindError", "DirectoryReadError", "Record", "connect",
           "paged_search", "load_groups", "records", "check_connection", "authenticate",
           "escape_filter_chars"]
