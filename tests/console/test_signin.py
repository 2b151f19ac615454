"""Sign-in pages: sign in/out, forced password change, forgot/reset by email, choosing orgs."""
from __future__ import annotations

import re

from sqlalchemy import select

from connector.identity import Identity
from connector.models import OutboxMessage, User
from tests.console.helpers import PASSWORD, csrf, post, seed, sign_in


def test_sign_in_with_username_or_email_lands_on_the_only_organization(app, client, factory):
    factory.org("acme", "Acme Corp")
    factory.member("acme", "ann@acme.test", username="ann", password=PASSWORD)
    r = sign_in(client, "ANN@acme.test")
    assert r.status_code == 303
    assert client.get("/orgs").headers["Location"].endswith("/orgs/acme")
    client.post("/signout", data={"csrf_token": csrf(client.get("/signout").get_data(True))})
    assert sign_in(client, "ann").status_code == 303


def test_wrong_password_and_unknown_user_get_the_same_generic_message(app, client, factory):
    seed(factory)
    bad = sign_in(client, "owner@acme.test", "nope nope nope")
    unknown = sign_in(client, "ghost@acme.test", "nope nope nope")
    assert bad.status_code == unknown.status_code == 401
    msg = "That username or email and password do not match an active account."
    assert msg in bad.get_data(True) and msg in unknown.get_data(True)
    assert client.get("/orgs/acme").status_code == 302


def test_sign_in_form_without_csrf_token_is_refused(app, client, factory):
    seed(factory)
    r = client.post("/signin", data={"login": "owner@acme.test", "password": PASSWORD})
    assert r.status_code == 400


def test_next_url_is_followed_only_within_the_site(app, client, factory):
    seed(factory)
    page = client.get("/signin?next=//evil.example/x").get_data(True)
    r = client.post("/signin", data={"login": "owner@acme.test", "password": PASSWORD,
                                     "next": "//evil.example/x", "csrf_token": csrf(page)})
    assert r.headers["Location"] == "/orgs"
    client.post("/signout", data={"csrf_token": csrf(client.get("/signout").get_data(True))})
    r = client.get("/orgs/acme/members")
    assert "/signin?next=/orgs/acme/members" in r.headers["Location"]


def test_sign_out_ends_the_session(app, client, factory):
    seed(factory)
    sign_in(client, "owner@acme.test")
    r = post(client, "/signout")
    assert r.status_code == 303
    assert client.get("/orgs/acme").status_code == 302


def test_must_change_password_blocks_every_console_page_until_changed(app, client, factory):
    factory.org("school")
    factory.provision("school", [Identity(username="pupil1", password="temporary-pw-1",
                                          must_change_password=True)])
    r = sign_in(client, "pupil1", "temporary-pw-1")
    assert r.status_code == 303
    r = client.get("/orgs/school")
    assert r.status_code == 302 and "/password/change" in r.headers["Location"]
    r = post(client, "/password/change", {"current_password": "temporary-pw-1",
                                          "new_password": "my own secret pw",
                                          "confirm_password": "my own secret pw"})
    assert r.status_code == 303
    assert client.get("/orgs/school").status_code == 200
    with app.app_context():
        from connector import db
        u = db.session().scalar(select(User).where(User.username == "pupil1"))
        assert u.must_change_password is False


def test_password_change_ends_other_sessions_but_keeps_this_one(app, factory):
    seed(factory)
    a, b = app.test_client(), app.test_client()
    sign_in(a, "member@acme.test")
    sign_in(b, "member@acme.test")
    r = post(a, "/password/change", {"current_password": PASSWORD,
                                     "new_password": "brand new password",
                                     "confirm_password": "brand new password"})
    assert r.status_code == 303
    assert a.get("/orgs/acme").status_code == 200
    assert b.get("/orgs/acme").status_code == 302


def test_short_new_password_is_refused_with_a_sentence(app, client, factory):
    seed(factory)
    sign_in(client, "member@acme.test")
    r = post(client, "/password/change", {"current_password": PASSWORD, "new_password": "short",
                                          "confirm_password": "short"})
    assert r.status_code == 400
    assert "at least 8 characters" in r.get_data(True)


def _reset_link(app) -> str:
    with app.app_context():
        from connector import db
        msg = db.session().scalars(select(OutboxMessage).where(
            OutboxMessage.topic == "password_reset")).all()[-1]
    assert msg.payload["template"] == "password_reset"
    assert msg.payload["context"]["user_name"]
    return msg.payload["context"]["reset_url"]


def test_forgot_password_emails_a_single_use_reset_link(app, client, factory):
    seed(factory)
    r = post(client, "/password/forgot", {"email": "member@acme.test"})
    assert "If an account uses that address" in r.get_data(True)
    url = _reset_link(app).replace("http://localhost", "")
    r = post(client, url, {"new_password": "reset password ok", "confirm_password":
                           "reset password ok"})
    assert r.status_code == 303
    assert client.get("/orgs/acme").status_code == 200  # signed in by the reset
    again = client.get(url)
    assert again.status_code == 400 and "expired or was already used" in again.get_data(True)
    fresh = app.test_client()
    assert sign_in(fresh, "member@acme.test", "reset password ok").status_code == 303


def test_forgot_password_for_unknown_address_says_the_same_and_sends_nothing(app, client,
                                                                              factory):
    seed(factory)
    r = post(client, "/password/forgot", {"email": "nobody@acme.test"})
    assert "If an account uses that address" in r.get_data(True)
    with app.app_context():
        from connector import db
        assert db.session().scalars(select(OutboxMessage)).all() == []


def test_tampered_reset_token_is_refused(app, client, factory):
    seed(factory)
    post(client, "/password/forgot", {"email": "member@acme.test"})
    url = _reset_link(app).replace("http://localhost", "")
    assert client.get(url[:-3] + "abc").status_code == 400


def test_continue_with_sso_is_offered_only_when_sso_exists(app, client, factory):
    seed(factory)
    html = client.get("/signin").get_data(True)
    if "sso.start" in app.view_functions:
        assert "Continue with SSO" in html
        r = post(client, "/signin/sso", {"email": "someone@acme.test"}, page="/signin")
        assert r.status_code == 303 and "/sso/" in r.headers["Location"]
    else:
        assert "Continue with SSO" not in html


def test_person_in_several_organizations_chooses_among_them(app, client, factory):
    factory.org("acme", "Acme Corp")
    factory.org("beta", "Beta Ltd")
    uid = factory.member("acme", "pat@x.test", password=PASSWORD)
    factory.provision("beta", [Identity(user_id=uid, role="admin")])
    sign_in(client, "pat@x.test")
    html = client.get("/orgs").get_data(True)
    assert "Acme Corp" in html and "Beta Ltd" in html
    assert re.search(r'href="/orgs/beta"', html)


def test_repeated_sign_in_attempts_are_rate_limited_with_a_sentence(factory, tmp_path):
    from connector import create_app
    seed(factory)
    limited = create_app({**{k: factory.app.config[k] for k in ("DATABASE_URL", "SECRET_KEY")},
                          "TESTING": True, "RATELIMIT_ENABLED": True,
                          "RATELIMIT_STORAGE_URI": "memory://"},
                         instance_path=str(tmp_path / "limited"))
    client = limited.test_client()
    codes = [sign_in(client, "owner@acme.test", "wrong password!").status_code
             for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    r = sign_in(client, "owner@acme.test")
    assert r.status_code == 429 and "Too many attempts" in r.get_data(True)
