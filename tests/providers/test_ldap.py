"""The LDAP provider against a real slapd: TLS, paging, partial reads, groups, bind sign-in."""
from __future__ import annotations

import socket
import threading
import uuid

import pytest

from connector.errors import AuthenticationFailed
from providers.ldap import (DirectoryBindError, DirectoryConfig, DirectoryError,
                            DirectoryReadError, authenticate, check_connection, connect,
                            load_groups, paged_search, records)
from tests import ldap_server as L

pytestmark = pytest.mark.skipif(L.slapd_binary() is None,
                                reason="slapd is not installed (Debian packages slapd, ldap-utils)")


@pytest.fixture(scope="session")
def slapd():
    return L.get_server()


@pytest.fixture
def tree(slapd):
    return L.Tree(slapd)


def cfg(slapd, base, **kw) -> DirectoryConfig:
    defaults = dict(urls=(slapd.url,), base_dn=base, bind_dn=L.READER_DN, password=L.READER_PW,
                    start_tls=True, ca_file=slapd.ca_file)
    return DirectoryConfig(**{**defaults, **kw})


@pytest.mark.slow
def test_paged_search_reads_10000_entries_past_the_servers_size_limit(slapd):
    c = cfg(slapd, L.BULK_BASE, page_size=1000)
    conn = connect(c)
    # Without paging the reader gets sizeLimitExceeded after 100 entries (ldap3 does not raise).
    conn.search(L.BULK_BASE, "(objectClass=inetOrgPerson)", attributes=["uid"])
    assert conn.result["result"] == 4 and len(conn.response) == 100
    ids = {r.identity.external_id for r in records(conn, c)}
    assert len(ids) == slapd.bulk == 10_000
    assert all(uuid.UUID(i) for i in list(ids)[:10])


def test_size_limit_mid_read_raises_after_the_entries_already_yielded(slapd):
    c = cfg(slapd, L.BULK_BASE, bind_dn=L.LIMITED_DN, password=L.LIMITED_PW, page_size=5)
    got = []
    with pytest.raises(DirectoryReadError) as err:
        for rec in records(connect(c), c):
            got.append(rec)
    assert len(got) == 15  # the server's prtotal limit: the read is partial and says so
    assert err.value.details["result_code"] == 4 and "sizeLimitExceeded" in err.value.message


def test_connection_dropped_mid_search_is_a_partial_read(slapd):
    """A proxy that forwards to slapd and cuts the connection after ~40 KB of answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def proxy():
        client, _ = listener.accept()
        upstream = socket.create_connection((slapd.host, slapd.port))
        done = threading.Event()

        def pump(src, dst, limit):
            sent = 0
            try:
                while not done.is_set() and (data := src.recv(4096)):
                    dst.sendall(data)
                    sent += len(data)
                    if limit and sent > limit:
                        break
            except OSError:
                pass
            done.set()
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pump, args=(client, upstream, 0), daemon=True).start()
        pump(upstream, client, 40_000)

    threading.Thread(target=proxy, daemon=True).start()
    c = cfg(slapd, L.BULK_BASE, urls=(f"ldap://127.0.0.1:{listener.getsockname()[1]}",),
            start_tls=False, page_size=100)
    got = 0
    with pytest.raises(DirectoryReadError):
        for _ in records(connect(c), c):
            got += 1
    assert 0 < got < slapd.bulk
    listener.close()


def test_starttls_with_the_test_ca_and_verification_on_by_default(slapd, tree):
    tree.add_user("alice")
    out = check_connection(cfg(slapd, tree.people))
    assert out["ok"] and out["tls"] and out["sample"][0]["username"] == "alice"
    # Without the custom CA the server certificate is not trusted: refused, never plain text.
    with pytest.raises(DirectoryError) as err:
        connect(cfg(slapd, tree.people, ca_file=None))
    assert err.value.code == "ldap_tls_failed"


def test_ldaps_verifies_the_certificate(slapd, tree):
    conn = connect(cfg(slapd, tree.people, urls=(slapd.ldaps_url,), start_tls=False))
    assert conn.server.ssl
    with pytest.raises(DirectoryError) as err:
        connect(cfg(slapd, tree.people, urls=(slapd.ldaps_url,), start_tls=False, ca_file=None))
    assert err.value.code == "ldap_tls_failed"


def test_wrong_service_bind_password_is_a_bind_error(slapd, tree):
    with pytest.raises(DirectoryBindError) as err:
        connect(cfg(slapd, tree.people, password="nope"))
    assert err.value.code == "ldap_bind_failed"


def test_unreachable_server_falls_back_to_the_next_url(slapd, tree):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    c = cfg(slapd, tree.people, urls=(f"ldap://127.0.0.1:{dead}", slapd.url), timeout=2)
    assert connect(c).bound


def test_records_are_keyed_on_entry_uuid_and_map_the_openldap_preset(slapd, tree):
    dn = tree.add_user("bob", cn="Bob Builder", givenName="Bob", sn="Builder",
                       mail="Bob@Example.test", employeeType="disabled")
    c = cfg(slapd, tree.people)
    [rec] = list(records(connect(c), c))
    assert rec.identity.external_id == tree.entry_uuid(dn)
    assert (rec.identity.username, rec.identity.email, rec.identity.given_name,
            rec.identity.family_name, rec.identity.display_name) == \
        ("bob", "Bob@Example.test", "Bob", "Builder", "Bob Builder")
    assert rec.disabled and rec.identity.active is False
    assert rec.identity.link_data == {"dn": dn} and rec.stamp.endswith("Z")


def test_incremental_filter_reads_only_entries_changed_since_the_watermark(slapd, tree):
    a, b = tree.add_user("ann"), tree.add_user("ben")
    c = cfg(slapd, tree.people)
    stamps = {r.identity.username: r.stamp for r in records(connect(c), c)}
    future = "29990101000000Z"
    assert list(records(connect(c), c, since=future)) == []
    assert {r.identity.username for r in records(connect(c), c, since=max(stamps.values()))} \
        >= {"ann", "ben"}
    assert a and b


def test_nested_group_of_names_and_posix_groups(slapd, tree):
    alice, bob = tree.add_user("alice"), tree.add_user("bob")
    staff = tree.add_group("staff", [alice])
    tree.add_group("everyone", [staff, bob])  # a group inside a group
    c = cfg(slapd, tree.people, group_kind="groupOfNames", group_base=tree.groups)
    conn = connect(c)
    groups = load_groups(conn, c)
    got = {r.identity.username: r.identity.groups for r in records(conn, c, groups=groups)}
    assert got == {"alice": ("everyone", "staff"), "bob": ("everyone",)}

    tree.add_group("unix", ["alice"], kind="posixGroup")
    c = cfg(slapd, tree.people, group_kind="posixGroup", group_base=tree.groups)
    conn = connect(c)
    got = {r.identity.username: r.identity.groups
           for r in records(conn, c, groups=load_groups(conn, c))}
    assert got == {"alice": ("unix",), "bob": ()}


def test_group_of_unique_names(slapd, tree):
    alice = tree.add_user("alice")
    tree.add_group("uniq", [alice], kind="groupOfUniqueNames")
    c = cfg(slapd, tree.people, group_kind="groupOfUniqueNames", group_base=tree.groups)
    conn = connect(c)
    [rec] = list(records(conn, c, groups=load_groups(conn, c)))
    assert rec.identity.groups == ("uniq",)


def test_bind_sign_in_escapes_the_username_and_checks_the_password(slapd, tree):
    tree.add_user("carol", password="c0rrect-horse")
    tree.add_user("dave", password="other-pass")
    c = cfg(slapd, tree.people)
    assert authenticate(c, "carol", "c0rrect-horse").identity.username == "carol"
    for login, pw in (("carol", "wrong"), ("carol", ""), ("*", "c0rrect-horse"),
                      ("carol)(uid=*", "c0rrect-horse"), ("nobody", "x")):
        with pytest.raises(AuthenticationFailed):
            authenticate(c, login, pw)


def test_paged_search_rejects_nothing_silently_on_a_bad_base(slapd):
    c = cfg(slapd, L.SUFFIX)
    with pytest.raises(DirectoryReadError) as err:
        list(paged_search(connect(c), "ou=missing," + L.SUFFIX, "(objectClass=*)", ["uid"]))
    assert err.value.details["result_code"] == 32  # noSuchObject


def test_a_referral_in_the_subtree_is_a_partial_read_unless_ignored(slapd, tree):
    tree.add_user("alice")
    # RFC 3296: a referral object; without ManageDsaIT a subtree search returns a continuation.
    tree.conn.add(f"ou=elsewhere,{tree.people}", ["referral", "extensibleObject"],
                  {"ou": "elsewhere", "ref": "ldap://127.0.0.1:9/ou=people,dc=other,dc=test"})
    c = cfg(slapd, tree.people)
    with pytest.raises(DirectoryReadError) as err:
        list(records(connect(c), c))
    assert "referral" in err.value.message and "dc=other" in err.value.message
    c = cfg(slapd, tree.people, ignore_referrals=True)
    assert [r.identity.username for r in records(connect(c), c)] == ["alice"]
