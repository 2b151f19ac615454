"""The real identity providers the provider tests talk to."""
from tests.providers.idps import oidc_idp, saml_idp  # noqa: F401
