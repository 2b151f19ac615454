"""The start page of the embedded app (the admin console grows here, issue 7)."""
from __future__ import annotations

from flask import Blueprint, render_template_string

bp = Blueprint("pages", __name__)

_INDEX = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>connector</title>
<main style="font-family:system-ui;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>connector</h1>
<p>The membership front door: SCIM, SSO, invites, CSV import, generated accounts and
directory sync, all through one provisioning pipeline.</p>
<p><a href="/signin">Sign in</a></p>
<ul><li><a href="/api/v1/openapi.json">Admin API (OpenAPI)</a></li>
<li><a href="/healthz">Health</a> · <a href="/readyz">Readiness</a></li></ul></main></html>"""


@bp.get("/")
def index():
    from flask import redirect, url_for

    from .auth import current_user
    if current_user() is not None:
        return redirect(url_for("console.my_orgs", all=1))
    return render_template_string(_INDEX)
