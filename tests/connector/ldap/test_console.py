"""The console page of directory sync: runs, the dry-run button, the queued sync, permissions."""
from __future__ import annotations

import re

from connector.ldap import scheduler

PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _sign_in(client, login):
    page = client.get("/signin")
    return client.post("/signin", data={"login": login, "password": PASSWORD,
                                        "csrf_token": _csrf(page.get_data(as_text=True))})


def test_admin_previews_then_queues_a_sync_and_reads_the_report(app, ldap, client):
    ldap.factory.member("acme", "admin@acme.example", role="admin", password=PASSWORD)
    ldap.tree.add_users(3)
    ldap.tree.add_user("bad", mail="not an email")
    ldap.add_source()
    assert _sign_in(client, "admin@acme.example").status_code in (302, 303)
    page = client.get("/orgs/acme/ldap")
    assert page.status_code == 200 and "Directory sync" in page.get_data(as_text=True)
    url = f"/orgs/acme/ldap/{ldap.source_id}/sync"
    token = _csrf(page.get_data(as_text=True))
    dry = client.post(url, data={"mode": "dry_run", "csrf_token": token}, follow_redirects=True)
    html = dry.get_data(as_text=True)
    assert "Preview only: nothing was changed." in html and "invalid_email" in html
    assert f"uid=bad,{ldap.tree.people}" in html and set(ldap.members()) == {"admin@acme.example"}
    queued = client.post(url, data={"mode": "full", "csrf_token": token}, follow_redirects=True)
    assert "queued" in queued.get_data(as_text=True)
    scheduler.run_due(app)
    assert len(ldap.members()) == 4  # 3 people + the admin; the bad entry was rejected
    assert "Finished." in client.get(queued.request.path).get_data(as_text=True)


def test_members_without_ldap_manage_cannot_see_the_page(ldap, client):
    ldap.factory.member("acme", "m@acme.example", role="member", password=PASSWORD)
    _sign_in(client, "m@acme.example")
    assert client.get("/orgs/acme/ldap").status_code == 403
    assert client.get(f"/orgs/acme/ldap/{ldap.add_source()}/runs/1").status_code == 403


def test_admin_connects_tests_edits_and_removes_a_directory_in_the_console(ldap, client):
    from sqlalchemy import select

    from connector.ldap.models import LdapSource
    from tests import ldap_server as L
    ldap.factory.member("acme", "admin@acme.example", role="admin", password=PASSWORD)
    ldap.tree.add_users(2)
    _sign_in(client, "admin@acme.example")
    form = client.get("/orgs/acme/ldap/new").get_data(as_text=True)
    fields = {"name": "corp", "preset": "openldap", "urls": ldap.slapd.url, "start_tls": "1",
              "tls_verify": "1", "ca_file": ldap.slapd.ca_file, "bind_dn": L.READER_DN,
              "bind_password": L.READER_PW, "base_dn": ldap.tree.people, "scope": "subtree",
              "group_kind": "none", "group_roles": "Admins=admin\nbad line",
              "interval_minutes": "0", "enabled": "1", "csrf_token": _csrf(form)}
    bad = client.post("/orgs/acme/ldap/new", data={**fields, "user_filter": "(uid=*"})
    assert bad.status_code == 200 and "not a valid LDAP filter" in bad.get_data(as_text=True)
    r = client.post("/orgs/acme/ldap/new", data=fields, follow_redirects=True)
    assert "Directory source saved." in r.get_data(as_text=True)
    src = ldap.factory.run(lambda s: s.scalar(select(LdapSource)))
    assert src.group_roles == {"admins": "admin"} and src.start_tls and src.interval_minutes == 0
    tested = client.post(f"/orgs/acme/ldap/{src.id}/test", data={"csrf_token": _csrf(form)},
                         follow_redirects=True)
    assert "Connected over TLS; read 2 sample user(s)." in tested.get_data(as_text=True)
    # Editing without a password keeps the stored one.
    edit = {**fields, "bind_password": "", "interval_minutes": "15"}
    client.post(f"/orgs/acme/ldap/{src.id}/edit", data=edit)
    again = client.post(f"/orgs/acme/ldap/{src.id}/test", data={"csrf_token": _csrf(form)},
                        follow_redirects=True)
    assert "Connected over TLS" in again.get_data(as_text=True)
    assert ldap.factory.run(lambda s: s.scalar(select(LdapSource.interval_minutes))) == 15
    gone = client.post(f"/orgs/acme/ldap/{src.id}/remove", data={"csrf_token": _csrf(form)},
                       follow_redirects=True)
    assert "Directory source removed" in gone.get_data(as_text=True)
    assert ldap.factory.run(lambda s: s.scalar(select(LdapSource))) is None
