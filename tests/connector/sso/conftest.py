"""Organizations, domains and connections wired to the real IdPs started on loopback."""
from __future__ import annotations

import pytest

from connector import orgs
from connector.identity import Actor
from connector.sso import service
from tests.providers.idps import OidcIdP, entra_idp, oidc_idp, saml_idp  # noqa: F401

OPERATOR = Actor.operator()


@pytest.fixture
def acme(factory):
    """Organization acme with the verified domain acme.test."""
    factory.org("acme", "Acme Corp", owner="owner@acme.test")
    factory.verify_domain("acme", "acme.test")
    return "acme"


def add_oidc(factory, idp, account: str, name: str, client_id: str, **kwargs):
    def make(session):
        org = orgs.require_org(session, account)
        return service.create_oidc(session, org, name=name, issuer=idp.issuer,
                                   client_id=client_id, client_secret=OidcIdP.secret(client_id),
                                   actor=OPERATOR, **kwargs).id
    return factory.run(make)


def add_saml(factory, idp, account: str, name: str, **kwargs):
    """A SAML connection from the IdP's metadata URL; the IdP learns our SP metadata."""
    def make(session):
        org = orgs.require_org(session, account)
        conn = service.create_saml(session, org, name=name, metadata_url=idp.base + "/metadata",
                                   actor=OPERATOR, **kwargs)
        from flask import current_app
        with current_app.test_request_context():
            from providers import saml
            idp.add_sp(saml.sp_metadata(service.saml_settings(org, conn)))
        return conn.id
    return factory.run(make)
