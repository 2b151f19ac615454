"""Directory dialects: attribute presets (Active Directory, OpenLDAP), escaped filters, and the
translation of one raw directory entry into an ``Identity``. Pure functions, no network."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from connector.errors import InvalidInput
from connector.identity import Identity

# AD: LDAP_MATCHING_RULE_IN_CHAIN walks nested group membership on the server
# ([MS-ADTS] 3.1.1.3.4.4.3); only Active Directory implements it.
IN_CHAIN = "1.2.840.113556.1.4.1941"
# AD userAccountControl ACCOUNTDISABLE flag ([MS-ADTS] 2.2.16).
UAC_DISABLED = 0x2
GROUP_KINDS = ("none", "groupOfNames", "groupOfUniqueNames", "posixGroup", "ad_nested",
               "memberOf")
MAP_KEYS = ("id", "username", "email", "given_name", "family_name", "display_name",
            "source_username", "disabled", "groups", "stamp")


@dataclass(frozen=True)
class AttributeMap:
    """Which directory attribute feeds which Identity field, and how disabled is spelled."""

    id: str
    username: str
    email: str = "mail"
    given_name: str = "givenName"
    family_name: str = "sn"
    display_name: str = "cn"
    source_username: str = ""      # the directory's own login name (AD userPrincipalName)
    disabled: str = ""             # attribute telling that the account is disabled
    disabled_values: tuple[str, ...] = ()   # values meaning disabled (case-insensitive)
    disabled_bit: int = 0          # or a bit of an integer attribute (AD userAccountControl)
    groups: str = ""               # attribute listing the groups' DNs (AD / overlay memberOf)
    stamp: str = "modifyTimestamp"  # incremental watermark attribute
    stamp_numeric: bool = False    # uSNChanged is an integer, modifyTimestamp GeneralizedTime
    id_binary: bool = False        # objectGUID is 16 little-endian bytes, not text

    def attributes(self) -> list[str]:
        """Every attribute to request (operational ones must be named explicitly)."""
        names = [self.id, self.username, self.email, self.given_name, self.family_name,
                 self.display_name, self.source_username, self.disabled, self.groups, self.stamp]
        return sorted({n for n in names if n})


PRESETS: dict[str, AttributeMap] = {
    "active_directory": AttributeMap(
        id="objectGUID", id_binary=True, username="sAMAccountName", email="mail",
        display_name="displayName", source_username="userPrincipalName",
        disabled="userAccountControl", disabled_bit=UAC_DISABLED, groups="memberOf",
        # AD's modifyTimestamp is not replicated exactly; uSNChanged is what DirSync-style
        # tools poll (per domain controller: keep one URL per source).
        stamp="uSNChanged", stamp_numeric=True),
    # OpenLDAP has no standard "disabled" flag without ppolicy; the preset reads
    # employeeType=disabled, which any inetOrgPerson can carry.
    "openldap": AttributeMap(
        id="entryUUID", username="uid", email="mail", display_name="cn",
        disabled="employeeType", disabled_values=("disabled",)),
}
DEFAULT_USER_FILTERS = {"active_directory": "(&(objectCategory=person)(objectClass=user))",
                        "openldap": "(objectClass=inetOrgPerson)"}


def attribute_map(preset: str, overrides: Mapping[str, Any] | None = None) -> AttributeMap:
    """A preset with the administrator's overrides applied (unknown keys refused)."""
    if preset not in PRESETS:
        raise InvalidInput(f"Unknown preset {preset!r}; presets are {', '.join(PRESETS)}.",
                           code="ldap_unknown_preset")
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(MAP_KEYS) - {"disabled_values", "disabled_bit"}
    if unknown:
        raise InvalidInput(f"Unknown attribute mapping key(s): {', '.join(sorted(unknown))}.",
                           code="ldap_invalid_mapping")
    if "disabled_values" in overrides:
        overrides["disabled_values"] = tuple(str(v) for v in overrides["disabled_values"] or ())
    for k, v in overrides.items():
        if k not in ("disabled_values", "disabled_bit") and not isinstance(v, str):
            raise InvalidInput(f"Mapping {k!r} must be an attribute name.",
                               code="ldap_invalid_mapping")
    return replace(PRESETS[preset], **overrides)


def check_filter(value: str, what: str = "filter") -> str:
    """Reject a malformed administrator-supplied filter early (RFC 4515 needs the parens)."""
    value = (value or "").strip()
    depth = 0
    for ch in value:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            break
    if not value.startswith("(") or depth != 0 or "\x00" in value:
        raise InvalidInput(f"The {what} {value!r} is not a valid LDAP filter (RFC 4515).",
                           code="ldap_invalid_filter")
    return value


def and_filter(*parts: str) -> str:
    """AND already-escaped filter parts."""
    parts = tuple(p for p in parts if p)
    return parts[0] if len(parts) == 1 else "(&" + "".join(parts) + ")"


def since_filter(amap: AttributeMap, watermark: str) -> str:
    """Entries changed at or after ``watermark`` (>=: an entry changed in the same second as
    the last run's newest one is read again rather than missed)."""
    return f"({amap.stamp}>={escape_filter_chars(watermark)})"


def in_chain_filter(group_dn: str) -> str:
    """AD: users that are members of ``group_dn`` directly or through nested groups."""
    return f"(memberOf:{IN_CHAIN}:={escape_filter_chars(group_dn)})"


def equality_filter(attribute: str, value: str) -> str:
    """(attribute=value) with the value escaped (RFC 4515 section 3)."""
    if not attribute.replace("-", "").replace(";", "").isalnum():
        raise InvalidInput(f"{attribute!r} is not an attribute name.", code="ldap_invalid_mapping")
    return f"({attribute}={escape_filter_chars(value)})"


def normalize_dn(dn: str) -> str:
    """A comparable form of a DN: attribute types and values case-folded, spacing removed."""
    try:
        return ",".join(f"{a.strip().lower()}={v.strip().lower()}"
                        for a, v, _ in parse_dn(dn, escape=False, strip=True))
    except Exception:  # noqa: BLE001 - a malformed DN still compares as text
        return dn.strip().lower()


def text(values: Iterable[bytes] | None) -> str | None:
    """The first value of an attribute as text (raw values: independent of schema loading)."""
    for v in values or ():
        return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)
    return None


def stable_id(amap: AttributeMap, raw: Mapping[str, list[bytes]]) -> str | None:
    """entryUUID as text; objectGUID's 16 bytes are little-endian in their first three fields."""
    values = _get(raw, amap.id)
    if not values:
        return None
    value = values[0]
    if amap.id_binary and isinstance(value, (bytes, bytearray)) and len(value) == 16:
        return str(uuid.UUID(bytes_le=bytes(value)))
    return text(values).strip().lower()


def is_disabled(amap: AttributeMap, raw: Mapping[str, list[bytes]]) -> bool:
    if not amap.disabled:
        return False
    values = [text([v]) or "" for v in _get(raw, amap.disabled)]
    if amap.disabled_bit:
        try:
            return any(int(v) & amap.disabled_bit for v in values)
        except ValueError:
            return False
    wanted = {v.lower() for v in amap.disabled_values}
    return any(v.strip().lower() in wanted for v in values)


def _get(raw: Mapping[str, list[bytes]], name: str) -> list[bytes]:
    if not name:
        return []
    if name in raw:
        return raw[name]
    lowered = name.lower()  # attribute names are case-insensitive (RFC 4512 section 2.5)
    for k, v in raw.items():
        if k.lower() == lowered:
            return v
    return []


@dataclass(frozen=True)
class Record:
    """One directory entry as a source record: the Identity plus what sync bookkeeping needs."""

    dn: str
    identity: Identity
    disabled: bool
    stamp: str | None = None


@dataclass
class GroupIndex:
    """Group names per member DN / memberUid, with nesting resolved (groupOfNames in groups)."""

    by_dn: dict[str, set[str]] = field(default_factory=dict)
    by_uid: dict[str, set[str]] = field(default_factory=dict)
    names_by_dn: dict[str, str] = field(default_factory=dict)  # group DN -> name
    loaded: bool = False

    def groups_of(self, dn: str, uid: str | None, member_of: Iterable[str] = ()) -> tuple[str, ...]:
        names = set(self.by_dn.get(normalize_dn(dn), ()))
        if uid:
            names |= self.by_uid.get(uid.lower(), set())
        for gdn in member_of:
            n = self.names_by_dn.get(normalize_dn(gdn))
            if n:
                names.add(n)
        return tuple(sorted(names, key=str.lower))


def build_group_index(groups: Iterable[tuple[str, str, list[str], bool]]) -> GroupIndex:
    """From (group DN, name, member values, values are uids) build the index. Members that are
    themselves groups are expanded (OpenLDAP nested groupOfNames; cycles are harmless)."""
    idx = GroupIndex(loaded=True)
    members: dict[str, tuple[str, list[str], bool]] = {}
    for gdn, name, values, uids in groups:
        key = normalize_dn(gdn)
        idx.names_by_dn[key] = name
        members[key] = (name, values, uids)
    # Parent groups of each group (a group listed as member of another).
    parents: dict[str, set[str]] = {}
    for gkey, (_, values, uids) in members.items():
        if uids:
            continue
        for v in values:
            vk = normalize_dn(v)
            if vk in members:
                parents.setdefault(vk, set()).add(gkey)

    def closure(gkey: str) -> set[str]:
        seen, todo = {gkey}, [gkey]
        while todo:
            for p in parents.get(todo.pop(), ()):
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return {members[k][0] for k in seen}

    cache: dict[str, set[str]] = {}
    for gkey, (_, values, uids) in members.items():
        names = cache.setdefault(gkey, closure(gkey))
        for v in values:
            if uids:
                idx.by_uid.setdefault(v.strip().lower(), set()).update(names)
            else:
                vk = normalize_dn(v)
                if vk not in members:
                    idx.by_dn.setdefault(vk, set()).update(names)
    return idx


def to_record(amap: AttributeMap, dn: str, raw: Mapping[str, list[bytes]],
              groups: GroupIndex | None) -> Record:
    """Translate one entry. The key is the stable id, never the DN (DNs change on rename)."""
    disabled = is_disabled(amap, raw)
    username = text(_get(raw, amap.username))
    member_of = [text([v]) or "" for v in _get(raw, amap.groups)] if amap.groups else []
    group_names = groups.groups_of(dn, username, member_of) if groups and groups.loaded else None
    ident = Identity(
        external_id=stable_id(amap, raw), email=text(_get(raw, amap.email)),
        # The directory vouches for the address; the pipeline still trusts it only on the
        # organization's verified domains.
        email_verified=True, username=username,
        source_username=text(_get(raw, amap.source_username)) if amap.source_username else None,
        given_name=text(_get(raw, amap.given_name)), family_name=text(_get(raw, amap.family_name)),
        display_name=text(_get(raw, amap.display_name)), active=not disabled,
        groups=group_names, link_data={"dn": dn})
    return Record(dn=dn, identity=ident, disabled=disabled, stamp=text(_get(raw, amap.stamp)))
