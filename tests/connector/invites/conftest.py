"""Helpers for the person-facing pages: CSRF tokens come from the rendered form."""
from __future__ import annotations

import re

import pytest


def csrf(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert m, page[:500]
    return m.group(1)


@pytest.fixture
def post_form(client):
    """POST a form the way a browser does: GET the page for its CSRF token first."""
    def post(path: str, data: dict, form_page: str | None = None, via=None):
        c = via or client
        token = csrf(c, form_page or path)
        return c.post(path, data={**data, "csrf_token": token})
    return post


def sign_in(client, app, email: str) -> None:
    """Start a session for an existing user (as the console's sign-in page would)."""
    from sqlalchemy import select

    from connector import db
    from connector.models import User
    with app.app_context():
        user = db.session().scalar(select(User).where(User.email == email))
        with client.session_transaction() as s:
            s["uid"], s["stamp"] = user.id, user.security_stamp
