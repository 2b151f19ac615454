"""Single sign-on: per-organization OIDC and SAML connections, sign-in attempts, the routes."""
