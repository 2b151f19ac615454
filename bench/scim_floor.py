"""The stack's floor for the SCIM benchmarks: a minimal Flask app doing the same database work
as each measured SCIM request, without authentication, validation, the pipeline or audit.

Run by bench/scim_bench.py under gunicorn: ``gunicorn bench.scim_floor:app``."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from sqlalchemy import func, insert, select, update

from connector.db import make_engine
from connector.models import Group, GroupMember, LinkedIdentity, Membership, User
from scim.models import ScimUser

app = Flask(__name__)
engine = make_engine(os.environ["CONNECTOR_DATABASE_URL"])


@app.get("/floor/users")
def find_user():
    org, name = int(request.args["org"]), request.args["userName"].lower()
    with engine.connect() as c:
        row = c.execute(select(ScimUser.scim_id, ScimUser.data).where(
            ScimUser.organization_id == org, ScimUser.user_name_folded == name)).first()
    return jsonify({"totalResults": 1 if row else 0,
                    "Resources": [{"id": row.scim_id, **row.data}] if row else []})


@app.get("/floor/users/page")
def page():
    org, offset = int(request.args["org"]), int(request.args["offset"])
    with engine.connect() as c:
        live = (ScimUser.organization_id == org) & ScimUser.deleted_at.is_(None)
        total = c.scalar(select(func.count()).select_from(ScimUser).where(live))
        rows = c.execute(select(ScimUser.scim_id, ScimUser.data).where(live)
                         .order_by(ScimUser.id).offset(offset).limit(100)).all()
    return jsonify({"totalResults": total, "Resources": [{"id": r.scim_id, **r.data} for r in rows]})


@app.post("/floor/users")
def create_user():
    d = request.get_json()
    org = int(d["org"])
    now = datetime.now(timezone.utc)
    sid = uuid.uuid4().hex
    with engine.begin() as c:
        uid = c.scalar(insert(User).returning(User.id).values(
            email=d["userName"].lower(), email_verified=False, given_name="", family_name="",
            display_name="", must_change_password=False, active=True, home_organization_id=org,
            profile={}, security_stamp=0, version=1, created_at=now, updated_at=now))
        c.execute(insert(Membership).values(organization_id=org, user_id=uid, role="member",
                                            status="active", source="scim", created_at=now,
                                            updated_at=now))
        c.execute(insert(LinkedIdentity).values(connection=f"scim:{org}", external_id=sid,
                                                user_id=uid, organization_id=org, data={},
                                                created_at=now))
        c.execute(insert(ScimUser).values(organization_id=org, scim_id=sid, user_id=uid,
                                          user_name=d["userName"],
                                          user_name_folded=d["userName"].lower(), active=True,
                                          data=d, version=1, created_at=now, updated_at=now))
    return jsonify({"id": sid}), 201


@app.post("/floor/groups/<int:gid>/members")
def add_member(gid: int):
    uid = int(request.get_json()["user_id"])
    with engine.begin() as c:
        c.execute(insert(GroupMember).values(group_id=gid, user_id=uid,
                                             created_at=datetime.now(timezone.utc)))
        c.execute(update(Group).where(Group.id == gid).values(version=Group.version + 1))
    return "", 204


@app.get("/floor/groups/<int:gid>")
def get_group(gid: int):
    with engine.connect() as c:
        g = c.execute(select(Group.external_id, Group.display_name, Group.version)
                      .where(Group.id == gid)).first()
    return jsonify({"id": g.external_id, "displayName": g.display_name})
