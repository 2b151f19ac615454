"""Generated accounts: usernames, passwords, must-change, the sheet once, PDF cards, resets."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select, update

from connector import db, orgs, pipeline
from connector.accounts import service
from connector.accounts.passwords import new_passphrase, new_password, words
from connector.accounts.usernames import from_name, unique_from_names
from connector.errors import Conflict, Forbidden, LimitReached
from connector.identity import Actor, Identity, Source
from connector.jobs import run_job, run_pending
from connector.models import AuditEvent, GroupMember, Membership, User
from connector.security import verify_password

OPERATOR = Actor.operator()


def _generate(app, account="acme", count=5, actor=OPERATOR, **kw) -> int:
    with app.app_context():
        with db.transaction() as s:
            job_id = service.generate(s, orgs.require_org(s, account), count, actor=actor,
                                      **kw).id
        assert run_job(job_id) == "done"
    return job_id


def _sheet(app, job_id, fmt="csv", account="acme", actor=OPERATOR):
    with app.app_context():
        with db.transaction() as s:
            return service.take_sheet(s, orgs.require_org(s, account), job_id, actor=actor,
                                      fmt=fmt)


def test_generated_accounts_get_numbered_usernames_hashed_passwords_and_must_change(app, factory):
    factory.org("acme", name="Acme School")
    job_id = _generate(app, count=6, prefix="Pupil", role="member", group="Class 1A")
    data, name, mimetype = _sheet(app, job_id)
    assert mimetype == "text/csv" and name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["username"] for r in rows] == [f"pupil{i}" for i in range(1, 7)]
    assert {r["organization"] for r in rows} == {"Acme School"}
    with app.app_context():
        s = db.session()
        users = {u.username: u for u in s.scalars(select(User))}
        assert s.scalar(select(func.count()).select_from(GroupMember)) == 6
        assert set(s.scalars(select(Membership.source))) == {"generated"}
    for r in rows:
        u = users[r["username"]]
        assert u.email is None and u.must_change_password
        assert u.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert verify_password(u.password_hash, r["password"])


def test_numbering_continues_past_deleted_users_and_never_reuses_them(app, factory):
    factory.org("acme")
    _generate(app, count=3, prefix="kid")
    with app.app_context():
        with db.transaction() as s:
            user = s.scalar(select(User).where(User.username == "kid3"))
            pipeline.delete_user(s, user, actor=OPERATOR, source=Source.MANUAL)
    job_id = _generate(app, count=2, prefix="kid")
    rows = list(csv.DictReader(io.StringIO(_sheet(app, job_id)[0].decode("utf-8-sig"))))
    assert [r["username"] for r in rows] == ["kid4", "kid5"]


def test_sheet_is_available_once_to_its_creator_and_the_download_is_audited(app, factory):
    factory.org("acme")
    admin = Actor("user:1", rank=30, user_id=1)
    job_id = _generate(app, count=2, actor=admin)
    with pytest.raises(Forbidden):
        _sheet(app, job_id, actor=Actor("user:2", rank=30, user_id=2))
    _sheet(app, job_id, fmt="pdf", actor=admin)
    with pytest.raises(Conflict) as err:
        _sheet(app, job_id, actor=admin)
    assert err.value.code == "sheet_already_downloaded"
    with app.app_context():
        s = db.session()
        events = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "accounts.sheet_downloaded")).all()
        assert [(e.actor, e.data["format"], e.data["accounts"]) for e in events] == [
            ("user:1", "pdf", 2)]


def test_pdf_sheet_has_one_card_per_account_with_url_and_qr(app, factory):
    from pypdf import PdfReader
    factory.org("acme", name="Acme School")
    job_id = _generate(app, count=10, prefix="card", passphrases=True)
    with app.app_context():
        s = db.session()
        n_users = s.scalar(select(func.count()).select_from(User))
    data, name, mimetype = _sheet(app, job_id, fmt="pdf")
    assert mimetype == "application/pdf" and n_users == 10
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2  # 8 cards per page
    text = "\n".join(p.extract_text() for p in reader.pages)
    for i in range(1, 11):
        assert f"card{i}\n" in text + "\n"
    assert text.count("Acme School") == 10 and text.count("http://localhost/login") == 10
    # Passphrases: three words of the shipped list and two digits.
    lines = text.splitlines()
    phrases = [lines[lines.index(f"card{i}") + 1] for i in range(1, 11)]
    for p in phrases:
        *ws, digits = p.split("-")
        assert len(ws) == 3 and set(ws) <= set(words()) and digits.isdigit()
    # The QR code of the sign-in URL (a hundred-odd module runs, drawn once as a form
    # XObject) is placed on every card: 8 on the first page, 2 on the second.
    for page, cards in zip(reader.pages, (8, 2)):
        assert page.get_contents().get_data().count(b" Do") == cards
        [qr] = page["/Resources"]["/XObject"].values()
        assert qr.get_object().get_data().count(b" re") > 100


def test_seat_limit_and_unknown_role_fail_before_any_account_is_made(app, factory):
    factory.org("acme", seat_limit=3)
    with app.app_context():
        with db.transaction() as s:
            org = orgs.require_org(s, "acme")
            with pytest.raises(LimitReached):
                service.generate(s, org, 4, actor=OPERATOR)
            from connector.errors import InvalidInput
            with pytest.raises(InvalidInput):
                service.generate(s, org, 2, actor=OPERATOR, role="wizard")
            with pytest.raises(InvalidInput):
                service.generate(s, org, 2, actor=OPERATOR, prefix="!!")


def test_passwords_are_strong_and_passphrases_use_the_word_list():
    pw = {new_password() for _ in range(200)}
    assert len(pw) == 200 and all(len(p) == 12 for p in pw)
    assert not any(set(p) & set("0O1lI") for p in pw)
    assert len(words()) == 1296 and all(w.isalpha() for w in words())
    assert len(new_passphrase().split("-")) == 4


def test_name_based_usernames_are_ascii_and_unique(app, factory):
    assert from_name("Zoë", "Ørsted") == "zoe.o"
    assert from_name("José María", "Núñez") == "josemaria.n"
    factory.org("acme")
    factory.member("acme", "x@acme.org", username="zoe.o")
    with app.app_context():
        assert unique_from_names(db.session(), [("Zoë", "Ørsted"), ("Zoe", "Olsen")]) == [
            "zoe.o2", "zoe.o3"]


def test_reset_password_gives_a_new_temporary_password(app, factory):
    factory.org("acme")
    factory.org("other")
    _generate(app, count=1, prefix="r")
    outsider = factory.member("other", "out@other.org")
    factory.provision("acme", [Identity(user_id=outsider)])
    with app.app_context():
        with db.transaction() as s:
            org = orgs.require_org(s, "acme")
            user, password = service.reset_password(s, org, "r1", actor=OPERATOR)
            assert verify_password(user.password_hash, password) and user.must_change_password
            with pytest.raises(Forbidden):
                service.reset_password(s, org, "out@other.org", actor=OPERATOR)
            s.execute(update(Membership).where(Membership.user_id == user.id)
                      .values(role="admin"))
            with pytest.raises(Forbidden) as err:
                service.reset_password(s, org, "r1", actor=Actor("user:9", rank=20))
            assert err.value.code == "role_escalation"


def test_api_generate_sheet_once_and_reset(app, client, factory):
    factory.org("acme")
    key = factory.api_key("acme")
    h = {"Authorization": f"Bearer {key}"}
    r = client.post("/api/v1/organizations/acme/accounts/generate", headers=h,
                    json={"count": 3, "prefix": "api"})
    assert r.status_code == 202
    job = r.get_json()
    run_pending(app)
    st = client.get(f"/api/v1/organizations/acme/jobs/{job['id']}", headers=h).get_json()
    assert st["status"] == "done" and st["rows_done"] == 3 and st["result"]["counts"] == {
        "created": 3}
    sheet = client.get(f"/api/v1/organizations/acme/accounts/generate/{job['id']}/sheet?format=csv",
                       headers=h)
    assert sheet.status_code == 200 and sheet.headers["Cache-Control"] == "no-store"
    assert sheet.data.decode("utf-8-sig").count("api") == 3
    again = client.get(f"/api/v1/organizations/acme/accounts/generate/{job['id']}/sheet",
                       headers=h)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "sheet_already_downloaded"
    other = factory.api_key("acme")
    with app.app_context():
        uid = db.session().scalar(select(User.id).where(User.username == "api1"))
    r = client.post(f"/api/v1/organizations/acme/members/{uid}/reset-password",
                    headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 200 and len(r.get_json()["password"]) == 12
    bad = client.post("/api/v1/organizations/acme/accounts/generate", headers=h,
                      json={"count": 0})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_count"


def test_generated_accounts_join_the_sub_organization_with_the_role(app, factory):
    factory.org("acme")
    factory.org("acme_north", parent="acme")
    job_id = _generate(app, count=2, prefix="north", role="staff",
                       sub_organization="acme_north")
    with app.app_context():
        s = db.session()
        rows = s.execute(select(Membership.organization_id, Membership.role)).all()
        north = orgs.require_org(s, "acme_north").id
    assert rows == [(north, "staff"), (north, "staff")]
    assert len(_sheet(app, job_id)[0].decode("utf-8-sig").splitlines()) == 3
    with app.app_context():
        with db.transaction() as s:
            from connector.errors import NotFound
            with pytest.raises(NotFound):
                service.generate(s, orgs.require_org(s, "acme"), 1, actor=OPERATOR,
                                 sub_organization="elsewhere")
