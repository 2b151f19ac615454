"""The admin console and the sign-in pages: server-rendered, thin views over the core services."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__)

# Route modules, imported explicitly so the routing table is easy to find (one per page group).
from . import common, signin, passwords, overview, members, structure, access, settings  # noqa: F401, I001


def _feature_pages() -> None:
    """Pages over feature services; each is skipped while its feature is absent from the build."""
    from importlib import import_module
    from importlib.util import find_spec
    for feature, pages in [("connector.invites", "invite_pages"),
                           ("connector.accounts", "bulk_pages"),
                           ("connector.sso.service", "sso_pages"),
                           ("connector.ldap.sync", "ldap_pages"),
                           ("connector.scim_admin", "scim_pages"),
                           ("connector.outbox.webhooks", "webhook_pages")]:
        if find_spec(feature) is not None:
            import_module(f"{__name__}.{pages}")


_feature_pages()
