"""Invite codes: format, admin API and CLI, joining through the page, outcomes, limits."""
from __future__ import annotations

import re
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from connector import orgs
from connector.db import utcnow
from connector.identity import Actor
from connector.invites import codes
from connector.models import Credential, Membership, User
from tests.connector.invites.conftest import sign_in

H = lambda key: {"Authorization": f"Bearer {key}"}  # noqa: E731
CODE_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def _code(factory, account="acme", **kw) -> str:
    return factory.run(lambda s: codes.create_code(s, orgs.require_org(s, account),
                                                   actor=Actor("cli"), **kw))[1]


def _uses(factory, code: str) -> int:
    return factory.run(lambda s: codes.find_code(s, code).uses)


def _signup(post_form, code: str, email: str, password="correct horse", via=None):
    return post_form("/join", {"code": code, "email": email, "password": password,
                               "name": "New Person", "action": "signup"}, via=via)


def test_codes_are_readable_groups_and_typing_slips_are_forgiven(app, factory):
    factory.org("acme")
    code = _code(factory)
    assert CODE_RE.match(code)
    sloppy = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert codes.normalize_code(sloppy) == code.replace("-", "")
    assert factory.run(lambda s: codes.find_code(s, sloppy)) is not None
    stored = factory.run(lambda s: s.scalar(select(Credential)))
    assert code.replace("-", "") not in (stored.token_hash, stored.hint, str(stored.data))
    assert len(stored.hint) == 4


def test_api_creates_lists_with_use_counts_revokes_and_regenerates(app, client, factory):
    factory.org("acme")
    factory.org("team", parent="acme")
    key = factory.api_key("acme")
    r = client.post("/api/v1/organizations/acme/invite-codes", headers=H(key), json={
        "label": "spring", "role": "staff", "sub_organization": "team", "max_uses": 5,
        "allowed_domain": "example.test"})
    assert r.status_code == 201 and CODE_RE.match(r.json["code"])
    assert r.json["expires_at"] and r.json["max_uses"] == 5 and r.json["uses"] == 0
    code_id = r.json["id"]
    [listed] = client.get("/api/v1/organizations/acme/invite-codes",
                          headers=H(key)).json["invite_codes"]
    assert "code" not in listed and listed["status"] == "active" and listed["label"] == "spring"
    assert client.post("/api/v1/organizations/acme/invite-codes", headers=H(key),
                       json={"role": "owner"}).json["error"]["code"] == "invalid_role"
    assert client.post("/api/v1/organizations/acme/invite-codes", headers=H(key),
                       json={"sub_organization": "nope"}).status_code == 400
    r = client.post(f"/api/v1/organizations/acme/invite-codes/{code_id}/regenerate",
                    headers=H(key))
    assert r.status_code == 201 and r.json["role"] == "staff" and r.json["max_uses"] == 5
    listed = client.get("/api/v1/organizations/acme/invite-codes", headers=H(key)).json
    assert [c["status"] for c in listed["invite_codes"]] == ["revoked", "active"]
    assert client.delete(f"/api/v1/organizations/acme/invite-codes/{r.json['id']}",
                         headers=H(key)).status_code == 204


def test_new_person_signs_up_with_a_code_and_joins_with_its_role(app, client, factory,
                                                                  post_form):
    factory.org("acme", "Acme Corp")
    code = _code(factory, role="staff")
    r = _signup(post_form, code.lower(), "New@Example.test")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "You are now a member of <strong>Acme Corp</strong>" in page
    m = factory.run(lambda s: s.scalar(select(Membership).join(User).where(
        User.email == "new@example.test")))
    assert m.role == "staff" and m.source == "invite_code"
    assert _uses(factory, code) == 1
    # The new person is signed in: joining again says so and takes no use.
    r = post_form("/join", {"code": code, "action": "join"})
    assert "already a member" in r.get_data(as_text=True) and _uses(factory, code) == 1


def test_signed_in_user_joins_with_just_the_code(app, client, factory, post_form):
    factory.org("acme")
    factory.org("home")
    factory.member("home", "pat@example.test")
    sign_in(client, app, "pat@example.test")
    r = post_form("/join", {"code": _code(factory), "action": "join"})
    assert "You are now a member" in r.get_data(as_text=True)


def test_existing_account_signs_in_with_password_on_the_join_page(app, client, factory,
                                                                  post_form):
    factory.org("acme")
    factory.org("home")
    factory.member("home", "pat@example.test", password="pat-password-1")
    code = _code(factory)
    r = post_form("/join", {"code": code, "email": "pat@example.test", "password": "wrong-one",
                            "action": "signin"})
    assert r.status_code == 400 and "Wrong email or password" in r.get_data(as_text=True)
    # Signing up with an address that has an account is refused: sign in instead.
    r = _signup(post_form, code, "pat@example.test")
    assert "sign in first" in r.get_data(as_text=True)
    r = post_form("/join", {"code": code, "email": "pat@example.test",
                            "password": "pat-password-1", "action": "signin"})
    assert "You are now a member" in r.get_data(as_text=True)
    assert _uses(factory, code) == 1


def test_every_refusal_has_its_own_outcome(app, client, factory, post_form):
    factory.org("acme", seat_limit=1)
    factory.member("acme", "first@example.test")
    full = _code(factory)
    assert "No free seats" in _signup(post_form, full, "x@example.test").get_data(as_text=True)
    factory.org("open")
    domain = _code(factory, "open", allowed_domain="corp.test")
    r = _signup(post_form, domain, "x@other.test")
    assert "Your address can" in r.get_data(as_text=True) and "corp.test" in r.get_data(
        as_text=True)
    once = _code(factory, "open", max_uses=1)
    assert "You are now a member" in _signup(
        post_form, once, "a@example.test", via=app.test_client()).get_data(as_text=True)
    r = _signup(post_form, once, "b@example.test")
    assert "used up" in r.get_data(as_text=True) and _uses(factory, once) == 1
    revoked = _code(factory, "open")
    factory.run(lambda s: codes.revoke_code(s, orgs.require_org(s, "open"),
                                            codes.find_code(s, revoked).id, actor=Actor("cli")))
    assert "has been revoked" in _signup(post_form, revoked, "c@example.test").get_data(
        as_text=True)
    expired = _code(factory, "open")
    factory.run(lambda s: setattr(codes.find_code(s, expired), "expires_at",
                                  utcnow() - timedelta(seconds=1)))
    r = _signup(post_form, expired, "d@example.test")
    assert r.status_code == 410 and "expired" in r.get_data(as_text=True)
    r = _signup(post_form, "AAAA-BBBB-CCCC", "e@example.test")
    assert r.status_code == 400 and "not valid" in r.get_data(as_text=True)


def test_guessing_codes_hits_the_rate_limit(app, client, factory, post_form):
    app.config.update(RATELIMIT_ENABLED=True, INVITE_CODE_RATE_LIMIT="5/minute",
                      INVITE_CODE_LOCKOUT_FAILURES=100)
    from connector.limits import limiter
    limiter.init_app(app)
    factory.org("acme")
    statuses = [_signup(post_form, codes.display(codes.generate_code()),
                        f"g{i}@example.test").status_code for i in range(7)]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]


def test_repeated_wrong_codes_lock_out_even_the_right_code(app, client, factory, post_form):
    app.config.update(INVITE_CODE_LOCKOUT_FAILURES=3)
    factory.org("acme")
    good = _code(factory)
    for _ in range(2):
        assert _signup(post_form, "AAAA-BBBB-CCCC", "x@example.test").status_code == 400
    r = _signup(post_form, "AAAA-BBBB-CCCC", "x@example.test")
    assert r.status_code == 429 and "Too many" in r.get_data(as_text=True)
    r = _signup(post_form, good, "y@example.test")
    assert r.status_code == 429 and _uses(factory, good) == 0


def test_cli_creates_lists_and_revokes_codes(app, factory, monkeypatch):
    from connector import cli
    monkeypatch.setattr(cli.CLIState, "app", property(lambda self: app))
    factory.org("acme")
    run = CliRunner().invoke
    r = run(cli.main, ["invite-code", "create", "acme", "--role", "staff", "--max-uses", "3",
                       "--label", "desk"])
    assert r.exit_code == 0, r.output
    code = r.output.strip().splitlines()[-1]
    assert CODE_RE.match(code)
    r = run(cli.main, ["invite-code", "list", "acme", "--json"])
    [listed] = __import__("json").loads(r.output)
    assert listed["uses"] == 0 and listed["max_uses"] == 3 and code not in r.output
    assert run(cli.main, ["invite-code", "revoke", "acme", str(listed["id"])]).exit_code == 0
    r = run(cli.main, ["invite-code", "revoke", "acme", "999"])
    assert r.exit_code == 1 and "(code_not_found)" in r.output
