"""Shared set-up of the console tests: an organization with people who can sign in."""
from __future__ import annotations

import re

PASSWORD = "correct horse battery"


def seed(factory, account: str = "acme") -> dict[str, int]:
    """acme with an owner, an admin and a plain member, each with PASSWORD."""
    factory.org(account, "Acme Corp")
    ids = {}
    for role in ("owner", "admin", "staff", "member"):
        ids[role] = factory.member(account, f"{role}@{account}.test", role=role,
                                   password=PASSWORD, given_name=role.title(),
                                   family_name="Person")
    return ids


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, login: str, password: str = PASSWORD):
    page = client.get("/signin")
    return client.post("/signin", data={"login": login, "password": password,
                                        "csrf_token": csrf(page.get_data(as_text=True))})


def post(client, url: str, data: dict | None = None, page: str | None = None):
    """POST a console form with the CSRF token of ``page`` (or of ``url`` itself)."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={**(data or {}), "csrf_token": csrf(html)})
