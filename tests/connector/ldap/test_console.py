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
