"""LDAP bind as a sign-in method: password checked by slapd, joined through the pipeline,
the login escaped, failures locked out, deactivated members kept out."""
from __future__ import annotations

import re

from sqlalchemy import select

from connector.models import LinkedIdentity, Membership


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _post(client, login, password, account="acme"):
    page = client.get(f"/signin/ldap/{account}")
    return client.post(f"/signin/ldap/{account}", data={
        "login": login, "password": password, "csrf_token": _csrf(page.get_data(as_text=True))})


def test_directory_password_signs_in_and_joins_through_the_pipeline(ldap, client):
    dn = ldap.tree.add_user("erin", password="Erin-pass-1")
    ldap.add_source(allow_signin=True)
    r = _post(client, "erin", "Erin-pass-1")
    assert r.status_code == 303
    link = ldap.factory.run(lambda s: s.scalar(select(LinkedIdentity).where(
        LinkedIdentity.connection == f"ldap:{ldap.source_id}")))
    assert link.external_id == ldap.tree.entry_uuid(dn)
    assert ldap.members()["erin"]["status"] == "active"
    # The same person later found by a sync is the same user (keyed on entryUUID).
    assert ldap.sync(full=True).counts["created"] == 0


def test_wrong_password_injection_and_disabled_sources_are_refused(ldap, client):
    ldap.tree.add_user("erin", password="Erin-pass-1")
    assert client.get("/signin/ldap/acme").status_code == 404  # no sign-in source yet
    ldap.add_source(allow_signin=True)
    for login, pw in (("erin", "wrong"), ("*", "Erin-pass-1"), ("erin)(uid=*", "Erin-pass-1"),
                      ("erin", "")):
        r = _post(client, login, pw)
        assert r.status_code == 401 and "do not match" in r.get_data(as_text=True)


def test_repeated_failures_lock_the_login_out(app, ldap, client):
    app.config["INVITE_CODE_LOCKOUT_FAILURES"] = 3
    ldap.tree.add_user("erin", password="Erin-pass-1")
    ldap.add_source(allow_signin=True)
    for _ in range(3):
        assert _post(client, "erin", "wrong").status_code == 401
    r = _post(client, "erin", "Erin-pass-1")
    assert r.status_code == 429 and "Too many failed sign-ins" in r.get_data(as_text=True)


def test_deactivated_member_cannot_sign_in(ldap, client):
    ldap.tree.add_users(12)
    dn = ldap.tree.add_user("erin", password="Erin-pass-1")
    ldap.add_source(allow_signin=True)
    ldap.sync(full=True)
    ldap.tree.modify(dn, employeeType="disabled")
    ldap.sync()
    r = _post(client, "erin", "Erin-pass-1")
    assert r.status_code == 401
    status = ldap.factory.run(lambda s: s.scalar(select(Membership.status).where(
        Membership.user_id == ldap.members()["erin"]["user_id"])))
    assert status == "deactivated"
