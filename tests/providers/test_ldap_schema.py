"""Directory dialect units: escaping, AD in-chain filters, objectGUID, disabled flags, nesting."""
from __future__ import annotations

import uuid

import pytest

from connector.errors import InvalidInput
from providers.ldap import DirectoryConfig
from providers.ldap_schema import (IN_CHAIN, attribute_map, build_group_index, check_filter,
                                   equality_filter, in_chain_filter, is_disabled,
                                   normalize_dn, since_filter, stable_id, to_record)


def test_in_chain_filter_uses_the_ad_oid_and_escapes_the_group_dn():
    flt = in_chain_filter("CN=R&D (Paris)*,OU=Groups,DC=corp,DC=example")
    assert flt == (f"(memberOf:{IN_CHAIN}:=CN=R&D \\28Paris\\29\\2a,OU=Groups,"
                   "DC=corp,DC=example)")
    assert IN_CHAIN == "1.2.840.113556.1.4.1941"


def test_values_put_into_filters_are_escaped():
    assert equality_filter("uid", "*)(uid=*") == "(uid=\\2a\\29\\28uid=\\2a)"
    assert equality_filter("uid", "a\\b\x00") == "(uid=a\\5cb\\00)"
    amap = attribute_map("openldap")
    assert since_filter(amap, "2026*)") == "(modifyTimestamp>=2026\\2a\\29)"
    with pytest.raises(InvalidInput):
        equality_filter("uid)(x", "y")


def test_active_directory_preset_reads_object_guid_and_the_disabled_bit():
    amap = attribute_map("active_directory")
    guid = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
    raw = {"objectGUID": [guid.bytes_le], "sAMAccountName": [b"jdoe"],
           "userPrincipalName": [b"jdoe@corp.example"], "mail": [b"j.doe@corp.example"],
           "userAccountControl": [b"514"], "memberOf": [b"CN=Staff,OU=Groups,DC=corp"],
           "uSNChanged": [b"123456"]}
    assert stable_id(amap, raw) == str(guid)
    assert is_disabled(amap, raw)  # 514 = NORMAL_ACCOUNT | ACCOUNTDISABLE
    assert not is_disabled(amap, {**raw, "userAccountControl": [b"512"]})
    idx = build_group_index([("CN=Staff,OU=Groups,DC=corp", "Staff", [], False)])
    rec = to_record(amap, "CN=John Doe,OU=People,DC=corp", raw, idx)
    assert rec.identity.external_id == str(guid) and rec.identity.username == "jdoe"
    assert rec.identity.source_username == "jdoe@corp.example"
    assert rec.identity.groups == ("Staff",) and rec.stamp == "123456"
    assert amap.stamp == "uSNChanged" and amap.stamp_numeric


def test_the_dn_is_never_the_key():
    amap = attribute_map("openldap")
    a = to_record(amap, "uid=x,ou=a,dc=t", {"entryUUID": [b"AAA-1"], "uid": [b"x"]}, None)
    b = to_record(amap, "uid=y,ou=b,dc=t", {"entryUUID": [b"aaa-1"], "uid": [b"y"]}, None)
    assert a.identity.external_id == b.identity.external_id == "aaa-1"


def test_nested_groups_resolve_transitively_and_survive_cycles():
    rows = [("cn=a,ou=g", "a", ["cn=b,ou=g", "uid=u1,ou=p"], False),
            ("cn=b,ou=g", "b", ["cn=c,ou=g", "uid=u2,ou=p"], False),
            ("cn=c,ou=g", "c", ["cn=a,ou=g", "UID=U3, OU=P"], False)]
    idx = build_group_index(rows)
    assert idx.groups_of("uid=u3,ou=p", None) == ("a", "b", "c")
    assert idx.groups_of("uid=u1,ou=p", None) == ("a", "b", "c")  # cycle: all reach all


def test_dn_normalization_ignores_case_and_spacing():
    assert normalize_dn("UID=Bob, OU=People,DC=Example") == "uid=bob,ou=people,dc=example"


def test_mapping_overrides_and_bad_configuration_are_refused():
    amap = attribute_map("openldap", {"email": "mailPrimaryAddress",
                                      "disabled_values": ["inactive"]})
    assert amap.email == "mailPrimaryAddress" and amap.disabled_values == ("inactive",)
    with pytest.raises(InvalidInput):
        attribute_map("openldap", {"password": "userPassword"})
    with pytest.raises(InvalidInput):
        check_filter("(uid=*")
    with pytest.raises(InvalidInput):
        DirectoryConfig(urls=("http://x",), base_dn="dc=x").validate()
    with pytest.raises(InvalidInput):
        DirectoryConfig(urls=("ldaps://x",), base_dn="dc=x", start_tls=True).validate()
    with pytest.raises(InvalidInput):
        DirectoryConfig(urls=("ldap://x",), base_dn="dc=x", page_size=5000).validate()
