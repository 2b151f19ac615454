"""Judge one record: match it, apply the organization's policy, and plan the writes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..identity import ADMIN_SOURCES, AUTHORITATIVE, Actor, Identity, Outcome, Reason, Source
from ..models import Group, LinkedIdentity, Membership, MembershipStatus, Organization, User
from ..roles import ADMIN_ROLES, RANKS
from ..security import hash_password
from .context import Candidates, Policy
from .normalize import email_domain


ACTIVE, DEACTIVATED = MembershipStatus.ACTIVE.value, MembershipStatus.DEACTIVATED.value
REMOVED = MembershipStatus.REMOVED.value
# Sources that are a person signing in or joining: they never reactivate a deactivated member.
SELF_SERVICE = frozenset({Source.OIDC, Source.SAML, Source.INVITE_CODE, Source.INVITATION})
PROFILE_FIELDS = ("given_name", "family_name", "display_name")


class Rejected(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        self.reason, self.message = reason, message


@dataclass
class Plan:
    index: int
    ident: Identity
    target: Organization
    user: User | None = None
    new_user: dict[str, Any] | None = None
    user_changes: dict[str, Any] = field(default_factory=dict)
    membership: Membership | None = None
    new_role: str | None = None
    member_changes: dict[str, Any] = field(default_factory=dict)
    link: LinkedIdentity | None = None
    link_changes: dict[str, Any] = field(default_factory=dict)
    groups_add: list[Group] = field(default_factory=list)
    groups_remove: list[int] = field(default_factory=list)
    outcome: Outcome = Outcome.UNCHANGED
    changes: list[str] = field(default_factory=list)



def _same_hierarchy(user: User, org: Organization, c: Candidates) -> bool:
    return user.home_organization_id is not None and \
        c.roots.get(user.home_organization_id) == org.root_id


def _match(plan: Plan, org: Organization, policy: Policy, c: Candidates,
           source: Source | None = None) -> User | None:
    """Linked identity first, then a trusted email, then username; never an untrusted email."""
    ident = plan.ident
    found: dict[int, str] = {}
    if ident.user_id is not None:
        if ident.user_id not in c.users:
            raise Rejected(Reason.UNKNOWN_USER, f"User {ident.user_id} does not exist.")
        found[ident.user_id] = "user"
    if ident.external_id and ident.external_id in c.by_link:
        found.setdefault(c.by_link[ident.external_id], "link")
    for kind, key, table, taken in (("email", ident.email, c.by_email, Reason.EMAIL_TAKEN),
                                    ("username", ident.username, c.by_username,
                                     Reason.USERNAME_TAKEN)):
        uid = table.get(key) if key else None
        if uid is None or uid in found:
            continue
        user = c.users[uid]
        trusted = (_same_hierarchy(user, org, c) or (plan.target.id, uid) in c.memberships
                   or (org.id, uid) in c.memberships)
        if kind == "email" and source in (Source.OIDC, Source.SAML):
            # A sign-in's email claim is only the IdP's word: an existing membership is no
            # proof the signer owns that account (Entra "nOAuth"). Verified domain or nothing.
            trusted = False
        if source in (Source.INVITE_CODE, Source.INVITATION):
            # A person joining by themselves proves an account by signing in (user_id), never
            # by typing its email or username at sign-up.
            trusted = False
        if kind == "email" and ident.email_verified and email_domain(key) in policy.verified_domains:
            trusted = True
        if not trusted:
            raise Rejected(taken, f"The {kind} {key} belongs to another account; that person "
                                  "must sign in and join themselves.")
        found[uid] = kind
    if len(found) > 1:
        raise Rejected(Reason.AMBIGUOUS_MATCH, "The record matches several accounts ("
                       + ", ".join(f"{how} -> user {uid}" for uid, how in found.items()) + ").")
    return c.users[next(iter(found))] if found else None


def decide(plan: Plan, org: Organization, policy: Policy, c: Candidates, seats: dict[int, int],
            source: Source, actor: Actor, connection: str | None, groups_mode: str) -> None:
    ident = plan.ident
    user = _match(plan, org, policy, c, source)
    plan.user = user
    membership = c.memberships.get((plan.target.id, user.id)) if user else None
    plan.membership = membership
    if user is not None and (not user.active or user.deleted_at is not None):
        raise Rejected(Reason.USER_DEACTIVATED, "This account is deactivated.")
    if membership is None and ident.active is not False:
        _check_join_policy(plan, policy, source, user)
    groups = [g for key in ident.groups or () if (g := c.groups.get(key) or c.groups.get(key.lower()))]
    role = _decide_role(plan, membership, groups, policy, source, actor)
    if user is None:
        _plan_new_user(plan, org, policy, source, c)
    else:
        _plan_user_update(plan, org, policy, source, c, user)
    # Membership: join, role change, deactivate or reactivate.
    if membership is None:
        status = DEACTIVATED if ident.active is False else ACTIVE
        _take_seat(plan.target, seats, status)
        _check_admin_limit(plan, policy, c, role)
        plan.new_role = role
        plan.member_changes = {"status": status}
        plan.outcome = Outcome.CREATED if user is None else Outcome.JOINED
        plan.changes.append("membership")
    else:
        if membership.status in (DEACTIVATED, REMOVED) and ident.active is not False:
            if source in SELF_SERVICE:
                raise Rejected(Reason.MEMBER_DEACTIVATED,
                               "Your membership in this organization has been deactivated.")
            # A deprovisioned ("removed") member comes back only when an admin source adds
            # them again; a deactivated one when it says active=true.
            if source in ADMIN_SOURCES and (ident.active is True or membership.status == REMOVED):
                _take_seat(plan.target, seats, ACTIVE)
                plan.member_changes["status"] = ACTIVE
        elif membership.status == REMOVED and ident.active is False:
            pass  # already out
        elif membership.status == ACTIVE and ident.active is False:
            plan.member_changes["status"] = DEACTIVATED
            seats[plan.target.id] -= 1
        if role != membership.role:
            _check_admin_limit(plan, policy, c, role)
            plan.member_changes["role"] = role
        if plan.member_changes:
            plan.changes.extend(sorted(plan.member_changes))
    _plan_link(plan, org, connection, c)
    _plan_groups(plan, groups, c, source, groups_mode)
    if plan.outcome is Outcome.UNCHANGED and plan.changes:
        plan.outcome = Outcome.UPDATED


def _check_join_policy(plan: Plan, policy: Policy, source: Source, user: User | None) -> None:
    # A signed-in person joining (user_id, no email in the record) is judged by their account's.
    domain = email_domain(plan.ident.email or (user.email if user else None))
    closed = {"invite_only": (Source.OIDC, Source.SAML),
              "closed": (Source.OIDC, Source.SAML, Source.INVITE_CODE, Source.INVITATION)}
    if source in closed.get(policy.join_policy, ()):
        raise Rejected(Reason.SOURCE_NOT_ALLOWED,
                       "This organization adds members by invitation only."
                       if policy.join_policy == "invite_only" else
                       "This organization is not taking new members; ask an admin.")
    if policy.allowed_domains and (domain not in policy.allowed_domains):
        raise Rejected(Reason.DOMAIN_NOT_ALLOWED,
                       f"Only addresses at {', '.join(sorted(policy.allowed_domains))} may join.")
    if source in (Source.OIDC, Source.SAML) and not (
            plan.ident.email_verified and domain in policy.verified_domains):
        # Auto-join by SSO needs a verified email on one of the organization's verified domains.
        raise Rejected(Reason.DOMAIN_NOT_ALLOWED,
                       "Sign-in can only join people whose verified email is on one of the "
                       "organization's verified domains.")


def _decide_role(plan: Plan, membership: Membership | None, groups: list[Group], policy: Policy,
                 source: Source, actor: Actor) -> str:
    ident = plan.ident
    current = membership.role if membership else None
    if current == "owner":
        return "owner"  # owners change only through set_role / transfer_ownership
    if ident.role:
        role = ident.role
    else:
        mapped = [g.role for g in groups if g.role in RANKS]
        mapped += [policy.role_mapping[k] for k in ident.groups or () if k in policy.role_mapping]
        mapped = [r for r in mapped if r in RANKS]
        if mapped:
            role = max(mapped, key=RANKS.__getitem__)
        else:
            role = current or plan.target.default_role or "member"
    if role == "owner" and source is not Source.MANUAL:
        role = "admin"  # automated sources never mint owners
    if RANKS[role] > actor.rank and role != current:
        raise Rejected(Reason.ROLE_ESCALATION, f"You cannot grant the {role} role.")
    return role


def _take_seat(target: Organization, seats: dict[int, int], status: str) -> None:
    if status != ACTIVE:
        return
    if target.seat_limit is not None and seats[target.id] >= target.seat_limit:
        raise Rejected(Reason.SEATS_FULL, f"{target.name} has no free seats "
                                          f"({target.seat_limit} in use).")
    seats[target.id] += 1


def _check_admin_limit(plan: Plan, policy: Policy, c: Candidates, role: str) -> None:
    if policy.one_admin_org and role in ADMIN_ROLES and plan.user is not None \
            and plan.user.id in c.admin_elsewhere:
        raise Rejected(Reason.ADMIN_LIMIT, "This person already administers another organization.")


def _plan_new_user(plan: Plan, org: Organization, policy: Policy, source: Source,
                   c: Candidates) -> None:
    ident = plan.ident
    if policy.create_sources is not None and source.value not in policy.create_sources:
        raise Rejected(Reason.SOURCE_NOT_ALLOWED,
                       f"This organization does not let {source.value} create accounts.")
    if ident.email and ident.email in c.by_email:
        raise Rejected(Reason.EMAIL_TAKEN, f"The email {ident.email} belongs to another account.")
    if ident.username and ident.username in c.by_username:
        raise Rejected(Reason.USERNAME_TAKEN, f"The username {ident.username} is taken.")
    pw = ident.password_hash or (hash_password(ident.password) if ident.password else None)
    plan.new_user = {
        "email": ident.email, "username": ident.username,
        "email_verified": bool(ident.email_verified and ident.email
                               and email_domain(ident.email) in policy.verified_domains)
        or (source in (Source.INVITATION,) and bool(ident.email)),
        "given_name": ident.given_name or "", "family_name": ident.family_name or "",
        "display_name": ident.display_name or " ".join(
            x for x in (ident.given_name, ident.family_name) if x),
        "password_hash": pw, "must_change_password": bool(ident.must_change_password),
        "active": True, "home_organization_id": org.id, "profile": dict(ident.profile),
        "managed_by_organization_id": org.id if source in AUTHORITATIVE else None,
        "managed_by_source": source.value if source in AUTHORITATIVE else None,
        "security_stamp": 0, "version": 1,
    }
    # Reserve the keys so a later record of the batch cannot claim them too.
    if ident.email:
        c.by_email[ident.email] = -1 - plan.index
    if ident.username:
        c.by_username[ident.username] = -1 - plan.index


def _plan_user_update(plan: Plan, org: Organization, policy: Policy, source: Source,
                      c: Candidates, user: User) -> None:
    ident = plan.ident
    wanted: dict[str, Any] = {}
    for f in PROFILE_FIELDS:
        v = getattr(ident, f)
        if v is not None and v != getattr(user, f):
            wanted[f] = v
    if ident.email and ident.email != user.email:
        wanted["email"] = ident.email
    if ident.username and ident.username != user.username:
        wanted["username"] = ident.username
    if ident.profile and {**user.profile, **ident.profile} != user.profile:
        wanted["profile"] = {**user.profile, **ident.profile}
    if (ident.password or ident.password_hash) and source in ADMIN_SOURCES:
        wanted["password_hash"] = ident.password_hash or hash_password(ident.password)
        if ident.must_change_password is not None:
            wanted["must_change_password"] = ident.must_change_password
    if not wanted:
        return
    managed = user.managed_by_source in AUTHORITATIVE
    owner_source = managed and user.managed_by_organization_id == org.id \
        and user.managed_by_source == source.value
    if managed and not owner_source:
        if source in (Source.CSV, Source.MANUAL, Source.GENERATED):
            raise Rejected(Reason.MANAGED_ELSEWHERE,
                           f"This person is managed by {user.managed_by_source.upper()}; "
                           "change them there.")
        return  # sign-ins and other directories do not overwrite the authoritative source
    if not owner_source and not _same_hierarchy(user, org, c):
        return  # another organization's account: join it, never edit it
    for key in ("email", "username"):
        if key in wanted:
            table = c.by_email if key == "email" else c.by_username
            other = table.get(wanted[key])
            if other is not None and other != user.id:
                raise Rejected(Reason.EMAIL_TAKEN if key == "email" else Reason.USERNAME_TAKEN,
                               f"The {key} {wanted[key]} belongs to another account.")
            table[wanted[key]] = user.id
    if "email" in wanted:
        wanted["email_verified"] = bool(ident.email_verified and
                                        email_domain(ident.email) in policy.verified_domains)
    if source in AUTHORITATIVE and user.managed_by_source is None:
        wanted.update(managed_by_organization_id=org.id, managed_by_source=source.value)
    plan.user_changes = wanted
    plan.changes.extend(k for k in sorted(wanted) if k not in ("email_verified",
                                                                  "managed_by_organization_id"))


def _plan_link(plan: Plan, org: Organization, connection: str | None, c: Candidates) -> None:
    ident = plan.ident
    if not (connection and ident.external_id):
        return
    link = c.links.get(ident.external_id)
    plan.link = link
    if link is None:
        plan.link_changes = {"new": True}
        return
    if ident.source_username and ident.source_username != link.username:
        plan.link_changes["username"] = ident.source_username
    if ident.link_data and {**link.data, **ident.link_data} != link.data:
        plan.link_changes["data"] = {**link.data, **ident.link_data}
    if plan.link_changes:
        plan.changes.append("identity")


def _plan_groups(plan: Plan, groups: list[Group], c: Candidates, source: Source,
                 groups_mode: str) -> None:
    if plan.ident.groups is None:
        return
    uid = plan.user.id if plan.user else None
    plan.groups_add = [g for g in {g.id: g for g in groups}.values()
                       if uid is None or (g.id, uid) not in c.group_pairs]
    if groups_mode == "sync" and uid is not None:
        keep = {g.id for g in groups}
        plan.groups_remove = sorted(gid for gid, u in c.group_pairs
                                    if u == uid and gid not in keep
                                    and c.group_sources.get(gid) == source.value)
    if plan.groups_add or plan.groups_remove:
        plan.changes.append("groups")
