"""The one provisioning pipeline: normalize, match, policy, apply, audit."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from connector import db, orgs, pipeline
from connector.identity import Actor, Identity, Outcome, Reason, Source
from connector.models import (AuditEvent, Group, GroupMember, LinkedIdentity, Membership,
                              OutboxMessage, User, WebhookEndpoint)

OPERATOR = Actor.operator()


def _users(factory):
    return factory.run(lambda s: {u.email or u.username: u for u in s.scalars(select(User))})


def test_create_then_same_record_is_unchanged_and_changed_name_updates(factory):
    factory.org("acme")
    [r] = factory.provision("acme", [Identity(email=" Ann@Acme.COM ", given_name="Ann")],
                            source=Source.CSV)
    assert r.outcome is Outcome.CREATED and _users(factory)["ann@acme.com"].given_name == "Ann"
    [r] = factory.provision("acme", [Identity(email="ann@acme.com", given_name="Ann")],
                            source=Source.CSV)
    assert r.outcome is Outcome.UNCHANGED
    [r] = factory.provision("acme", [Identity(email="ann@acme.com", given_name="Anna")],
                            source=Source.CSV)
    assert r.outcome is Outcome.UPDATED and r.changes == ("given_name",)
    assert _users(factory)["ann@acme.com"].given_name == "Anna"


def test_invalid_records_are_rejected_with_reasons_and_others_proceed(factory):
    factory.org("acme")
    results = factory.provision("acme", [
        Identity(email="not-an-email"), Identity(email="ok@acme.com"), Identity(),
        Identity(email="ok@acme.com"), Identity(username="Bad Name!"),
        Identity(email="x@acme.com", role="wizard")], source=Source.CSV)
    assert [r.reason for r in results] == [
        Reason.INVALID_EMAIL, None, Reason.MISSING_IDENTIFIER, Reason.DUPLICATE_IN_BATCH,
        Reason.INVALID_USERNAME, Reason.UNKNOWN_ROLE]
    assert list(_users(factory)) == ["ok@acme.com"]


def test_linked_identity_matches_before_email(factory):
    factory.org("acme")
    [a] = factory.provision("acme", [Identity(external_id="ext-1", email="a@acme.com")],
                            source=Source.SCIM, connection="scim:1")
    # The IdP changed the address: the link still finds the same person.
    [b] = factory.provision("acme", [Identity(external_id="ext-1", email="a.new@acme.com")],
                            source=Source.SCIM, connection="scim:1")
    assert b.user_id == a.user_id and b.outcome is Outcome.UPDATED
    assert list(_users(factory)) == ["a.new@acme.com"]


def test_unverified_email_of_another_organizations_user_is_never_linked(factory):
    factory.org("acme")
    factory.org("evil")
    factory.member("acme", "victim@acme.com")
    [r] = factory.provision("evil", [Identity(external_id="x", email="victim@acme.com",
                                              email_verified=True)],
                            source=Source.SCIM, connection="scim:evil")
    assert r.reason is Reason.EMAIL_TAKEN
    links = factory.run(lambda s: s.scalar(select(func.count()).select_from(LinkedIdentity)))
    assert links == 0


def test_verified_email_on_a_verified_domain_links_the_existing_account(factory):
    factory.org("acme")
    factory.org("partner")
    uid = factory.member("acme", "pat@partner.io")
    factory.verify_domain("partner", "partner.io")
    [r] = factory.provision("partner", [Identity(external_id="p-1", email="pat@partner.io",
                                                 email_verified=True, given_name="Changed")],
                            source=Source.SCIM, connection="scim:partner")
    assert (r.outcome, r.user_id) == (Outcome.JOINED, uid)
    # Joined, linked, but another organization's account is not edited.
    assert _users(factory)["pat@partner.io"].given_name == ""


def test_records_matching_two_accounts_are_ambiguous(factory):
    factory.org("acme")
    factory.member("acme", "one@acme.com", username="one")
    factory.member("acme", "two@acme.com", username="two")
    [r] = factory.provision("acme", [Identity(email="one@acme.com", username="two")],
                            source=Source.CSV)
    assert r.reason is Reason.AMBIGUOUS_MATCH


def test_seat_limit_rejects_the_overflow_without_orphan_accounts(factory):
    factory.org("acme", seat_limit=2)
    results = factory.provision("acme", [Identity(email=f"u{i}@acme.com") for i in range(4)],
                                source=Source.CSV)
    assert [r.outcome for r in results] == [Outcome.CREATED] * 2 + [Outcome.REJECTED] * 2
    assert results[3].reason is Reason.SEATS_FULL
    assert sorted(_users(factory)) == ["u0@acme.com", "u1@acme.com"]


def test_deactivated_members_free_their_seat_and_cannot_rejoin_by_sign_in(factory):
    factory.org("acme", seat_limit=1)
    factory.verify_domain("acme", "acme.com")
    [a] = factory.provision("acme", [Identity(external_id="s1", email="a@acme.com",
                                              email_verified=True)],
                            source=Source.OIDC, connection="oidc:1")
    factory.run(lambda s: pipeline.deprovision(s, orgs.require_org(s, "acme"), [a.user_id],
                                               actor=OPERATOR, source=Source.SCIM))
    [again] = factory.provision("acme", [Identity(external_id="s1", email="a@acme.com",
                                                  email_verified=True)],
                                source=Source.OIDC, connection="oidc:1")
    assert again.reason is Reason.MEMBER_DEACTIVATED
    [b] = factory.provision("acme", [Identity(email="b@acme.com")], source=Source.MANUAL)
    assert b.outcome is Outcome.CREATED  # the seat was freed
    [back] = factory.provision("acme", [Identity(user_id=a.user_id, active=True)])
    assert back.reason is Reason.SEATS_FULL


def test_sso_auto_join_needs_a_verified_email_on_a_verified_domain(factory):
    factory.org("acme")
    factory.verify_domain("acme", "acme.com")
    results = factory.provision("acme", [
        Identity(external_id="1", email="a@acme.com", email_verified=False),
        Identity(external_id="2", email="b@gmail.com", email_verified=True),
        Identity(external_id="3", email="c@acme.com", email_verified=True)],
        source=Source.SAML, connection="saml:1")
    assert [r.reason for r in results] == [Reason.DOMAIN_NOT_ALLOWED, Reason.DOMAIN_NOT_ALLOWED,
                                           None]


def test_allowed_domains_and_create_sources_policies(factory):
    factory.org("acme", settings={"allowed_domains": ["acme.com"], "create_sources": ["scim"]})
    results = factory.provision("acme", [Identity(email="a@other.com"), Identity(email="b@acme.com")],
                                source=Source.CSV)
    assert [r.reason for r in results] == [Reason.DOMAIN_NOT_ALLOWED, Reason.SOURCE_NOT_ALLOWED]
    [r] = factory.provision("acme", [Identity(email="b@acme.com", external_id="b")],
                            source=Source.SCIM, connection="scim:1")
    assert r.outcome is Outcome.CREATED


def test_scim_managed_user_is_not_edited_by_csv(factory):
    factory.org("acme")
    factory.provision("acme", [Identity(external_id="e", email="m@acme.com", given_name="M")],
                      source=Source.SCIM, connection="scim:1")
    [r] = factory.provision("acme", [Identity(email="m@acme.com", given_name="Other")],
                            source=Source.CSV)
    assert r.reason is Reason.MANAGED_ELSEWHERE
    [r] = factory.provision("acme", [Identity(email="m@acme.com")], source=Source.CSV)
    assert r.outcome is Outcome.UNCHANGED  # nothing to change is not an edit
    assert _users(factory)["m@acme.com"].managed_by_source == "scim"


def test_group_claims_map_to_roles_and_sync_removes_stale_groups(factory):
    org = factory.org("acme", settings={"role_mapping": {"it-admins": "admin"}})
    factory.verify_domain("acme", "acme.com")
    factory.run(lambda s: s.add(Group(organization_id=org.id, display_name="Teachers",
                                      role="staff", source="saml")))
    u = dict(external_id="u", email="u@acme.com", email_verified=True)
    [r] = factory.provision("acme", [Identity(**u, groups=("teachers", "it-admins"))],
                            source=Source.SAML, connection="saml:1", groups_mode="sync",
                            create_groups=True)
    role = factory.run(lambda s: s.scalar(select(Membership.role)))
    assert role == "admin"
    [r] = factory.provision("acme", [Identity(**u, groups=("Teachers",))],
                            source=Source.SAML, connection="saml:1", groups_mode="sync")
    names = factory.run(lambda s: sorted(s.scalars(select(Group.display_name).join(
        GroupMember, GroupMember.group_id == Group.id)).all()))
    assert names == ["Teachers"]
    assert factory.run(lambda s: s.scalar(select(Membership.role))) == "staff"


def test_automated_sources_never_mint_owners(factory):
    factory.org("acme", settings={"role_mapping": {"boss": "owner"}})
    factory.provision("acme", [Identity(external_id="u", username="u", groups=("boss",))],
                      source=Source.SCIM, connection="scim:1")
    assert factory.run(lambda s: s.scalar(select(Membership.role))) == "admin"


def test_role_escalation_is_rejected(factory):
    factory.org("acme")
    [r] = factory.provision("acme", [Identity(email="a@acme.com", role="admin")],
                            actor=Actor("user:9", rank=20))
    assert r.reason is Reason.ROLE_ESCALATION and not _users(factory)


def test_sub_organization_target(factory):
    factory.org("acme")
    factory.org("acme_eu", parent="acme")
    factory.org("other")
    results = factory.provision("acme", [Identity(email="a@acme.com", sub_organization="acme_eu"),
                                         Identity(email="b@acme.com", sub_organization="other")],
                                source=Source.CSV)
    eu = factory.run(lambda s: orgs.require_org(s, "acme_eu").id)
    assert results[0].organization_id == eu and results[1].reason is Reason.UNKNOWN_SUB_ORGANIZATION


def test_dry_run_predicts_exactly_and_writes_nothing(factory):
    factory.org("acme", seat_limit=3)
    factory.member("acme", "old@acme.com")
    batch = [Identity(email="old@acme.com", given_name="Old"), Identity(email="n1@acme.com"),
             Identity(email="n2@acme.com"), Identity(email="n3@acme.com"), Identity(email="bad")]
    dry = factory.provision("acme", batch, source=Source.CSV, dry_run=True)
    before = factory.run(lambda s: (s.scalar(select(func.count()).select_from(User)),
                                    s.scalar(select(func.count()).select_from(AuditEvent))))
    real = factory.provision("acme", batch, source=Source.CSV)
    assert [(r.outcome, r.reason) for r in dry] == [(r.outcome, r.reason) for r in real]
    assert [r.outcome for r in real] == [Outcome.UPDATED, Outcome.CREATED, Outcome.CREATED,
                                         Outcome.REJECTED, Outcome.REJECTED]
    assert before[0] == 1


def test_audit_and_webhook_rows_are_written_with_the_change_and_roll_back_with_it(app, factory):
    org = factory.org("acme")
    factory.run(lambda s: s.add(WebhookEndpoint(organization_id=org.id, url="http://127.0.0.1:9/",
                                                secret="s", events=[])))
    with app.app_context():
        session = db.new_session()
        with pytest.raises(RuntimeError):
            with session.begin():
                pipeline.provision(session, orgs.require_org(session, "acme"),
                                   [Identity(email="a@acme.com")], source=Source.CSV, actor=OPERATOR)
                raise RuntimeError("boom")
        session.close()
    counts = lambda s: (s.scalar(select(func.count()).select_from(User)),  # noqa: E731
                        s.scalar(select(func.count()).select_from(OutboxMessage)))
    assert factory.run(counts) == (0, 0)
    factory.provision("acme", [Identity(email="a@acme.com")], source=Source.CSV)
    topics = factory.run(lambda s: sorted(s.scalars(select(OutboxMessage.topic)).all()))
    assert topics == ["member.joined", "user.created"]


def test_matching_is_set_based(app, factory):
    """A batch costs the same number of statements whatever its size."""
    factory.org("acme")

    def statements(n: int, offset: int) -> int:
        seen = []
        with app.app_context():
            engine = db.engine()
            listener = lambda *a, **k: seen.append(1)  # noqa: E731
            event.listen(engine, "before_cursor_execute", listener)
            try:
                factory.provision("acme", [Identity(email=f"u{offset + i}@acme.com",
                                                    given_name="X") for i in range(n)],
                                  source=Source.CSV)
            finally:
                event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    assert statements(5, 0) == statements(300, 1000)
    # And again for updates of existing people.
    assert statements(5, 0) == statements(300, 1000)


def test_deactivation_revokes_keys_the_member_owns(app, factory, client):
    factory.org("acme", owner="o@acme.com")
    uid = factory.member("acme", "dev@acme.com", role="admin")
    key = factory.api_key("acme", ["org.view"], user_id=uid)
    assert client.get("/api/v1/organizations/acme", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    factory.run(lambda s: pipeline.deprovision(s, orgs.require_org(s, "acme"), [uid],
                                               actor=OPERATOR, source=Source.LDAP))
    r = client.get("/api/v1/organizations/acme", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401


def test_remove_policy_drops_access_groups_and_keeps_the_person_out(factory):
    org = factory.org("acme", deprovision_policy="remove")
    factory.verify_domain("acme", "acme.com")
    sso = dict(external_id="s", email="g@acme.com", email_verified=True)
    [r] = factory.provision("acme", [Identity(**sso, groups=("G",))], source=Source.OIDC,
                            connection="oidc:1", create_groups=True)
    factory.run(lambda s: pipeline.deprovision(s, orgs.require_org(s, "acme"), [r.user_id],
                                               actor=OPERATOR, source=Source.SCIM))
    state = factory.run(lambda s: (s.scalar(select(Membership.status)),
                                   s.scalar(select(func.count()).select_from(GroupMember)),
                                   orgs.seats_used(s, orgs.require_org(s, "acme"))))
    assert state == ("removed", 0, 0) and org.deprovision_policy == "remove"
    from connector import members
    assert factory.run(lambda s: members.list_members(s, orgs.require_org(s, "acme"))) == []
    # Signing in again does not bring a deprovisioned person back...
    [again] = factory.provision("acme", [Identity(**sso)], source=Source.OIDC, connection="oidc:1")
    assert again.reason is Reason.MEMBER_DEACTIVATED
    # ...an admin source adding them does.
    [back] = factory.provision("acme", [Identity(user_id=r.user_id)], source=Source.MANUAL)
    assert back.outcome is Outcome.UPDATED
    assert factory.run(lambda s: s.scalar(select(Membership.status))) == "active"


def test_self_service_sign_up_never_claims_an_existing_account_by_email(factory):
    factory.org("acme")
    uid = factory.member("acme", "taken@acme.com")
    for source in (Source.INVITE_CODE, Source.INVITATION):
        [r] = factory.provision("acme", [Identity(email="taken@acme.com", password="pw-123456")],
                                source=source)
        assert r.reason is Reason.EMAIL_TAKEN
    [r] = factory.provision("acme", [Identity(user_id=uid)], source=Source.INVITE_CODE)
    assert r.outcome is Outcome.UNCHANGED


def test_signed_in_joiner_is_judged_by_their_account_email_for_allowed_domains(factory):
    factory.org("home")
    factory.org("acme", settings={"allowed_domains": ["acme.com"]})
    ok = factory.member("home", "in@acme.com")
    out = factory.member("home", "out@other.com")
    results = factory.provision("acme", [Identity(user_id=ok), Identity(user_id=out)],
                                source=Source.INVITE_CODE)
    assert [r.reason for r in results] == [None, Reason.DOMAIN_NOT_ALLOWED]


@pytest.mark.parametrize("policy,refused", [
    ("verified_domain", set()),
    ("invite_only", {Source.OIDC, Source.SAML}),
    ("closed", {Source.OIDC, Source.SAML, Source.INVITE_CODE, Source.INVITATION})])
def test_join_policy_decides_which_self_service_paths_may_add_people(factory, policy, refused):
    factory.org("acme", settings={"join_policy": policy})
    factory.verify_domain("acme", "acme.com")
    for i, source in enumerate([Source.OIDC, Source.SAML, Source.INVITE_CODE, Source.INVITATION,
                                Source.CSV, Source.SCIM, Source.MANUAL]):
        [r] = factory.provision("acme", [Identity(external_id=f"x{i}", email=f"p{i}@acme.com",
                                                  email_verified=True)],
                                source=source, connection=f"{source.value}:1")
        assert (r.reason is Reason.SOURCE_NOT_ALLOWED) == (source in refused), (source, r)


def test_unknown_join_policy_is_refused(factory):
    from connector.errors import InvalidInput
    with pytest.raises(InvalidInput) as err:
        factory.org("acme", settings={"join_policy": "anyone"})
    assert err.value.code == "invalid_join_policy"
