"""OpenID Connect authorization code flow with PKCE: turns the IdP's callback into an Identity or
raises AuthenticationFailed. Protocol only: no storage, no pipeline."""
from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.errors import (ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError)
from joserfc.jwk import KeySet

from connector.errors import AuthenticationFailed
from connector.identity import Identity

from . import http
from .presets import require_preset

# Asymmetric algorithms only: "none" and HS* (keyed with the public client secret) never.
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                      "EdDSA")
TENANT = "{tenantid}"  # Entra multi-tenant discovery advertises this literal issuer


@dataclass(frozen=True)
class Settings:
    """One OIDC connection, as the provider needs it."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    preset: str = "generic"
    scopes: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway: int = 60
    discovery_url: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)  # preset inputs: tenants, hd

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or \
            self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class _Cache:
    """Discovery documents and JWKS per process, refreshed after ``ttl`` or on an unknown kid.
    A cache, not shared state: losing it only costs one fetch."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[float, dict]] = {}
        self.lock = threading.Lock()
        self.fetches = 0           # read by the benchmark and the tests

    def get(self, url: str, ttl: float, force: bool = False) -> dict:
        now = time.monotonic()
        with self.lock:
            hit = self.docs.get(url)
        if hit and not force and now - hit[0] < ttl:
            return hit[1]
        # A forced refresh (unknown kid) at most every 10 s per URL: a forged kid cannot
        # turn every request into a fetch at the IdP.
        if hit and force and now - hit[0] < 10:
            return hit[1]
        doc = http.fetch_json(url)
        with self.lock:
            self.fetches += 1
            self.docs[url] = (now, doc)
        return doc

    def clear(self) -> None:
        with self.lock:
            self.docs.clear()


CACHE = _Cache()
CACHE_TTL = 3600.0


def metadata(s: Settings) -> dict:
    """The IdP's discovery document (OIDC Discovery §4), cached."""
    doc = CACHE.get(s.metadata_url, CACHE_TTL)
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(key), str):
            raise AuthenticationFailed(f"The IdP discovery document lacks {key}.",
                                       code="bad_discovery")
    return doc


def begin(s: Settings) -> tuple[str, dict[str, str]]:
    """The authorization URL to send the browser to, and what to keep in the session."""
    doc = metadata(s)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    client = OAuth2Session(s.client_id, redirect_uri=s.redirect_uri,
                           scope=" ".join(s.scopes or require_preset(s.preset).scopes),
                           code_challenge_method="S256")
    url, _ = client.create_authorization_url(doc["authorization_endpoint"], state=state,
                                             nonce=nonce, code_verifier=verifier)
    return url, {"state": state, "nonce": nonce, "verifier": verifier}


def finish(s: Settings, args: Mapping[str, str], pending: Mapping[str, str] | None
           ) -> tuple[Identity, dict[str, Any]]:
    """Check the callback, redeem the code, validate the ID token; the Identity and claims."""
    if not pending or not hmac.compare_digest(str(args.get("state", "")), pending["state"]):
        # RFC 6749 §10.12: a callback we did not ask for in this browser (login CSRF).
        raise AuthenticationFailed("This sign-in was not started here, or it expired. "
                                   "Start again.", code="state_mismatch")
    doc = metadata(s)
    _check_iss_parameter(s, doc, args)
    if args.get("error"):
        raise AuthenticationFailed("The identity provider refused the sign-in.",
                                   code="idp_error", idp_error=str(args.get("error"))[:100])
    if not args.get("code"):
        raise AuthenticationFailed("The identity provider sent no code.", code="missing_code")
    token = _redeem(s, doc, str(args["code"]), pending["verifier"])
    claims = validate_id_token(s, doc, token.get("id_token"), pending["nonce"],
                               token.get("access_token"))
    return to_identity(s, claims), claims


def _check_iss_parameter(s: Settings, doc: dict, args: Mapping[str, str]) -> None:
    """RFC 9207 §2.4: the iss parameter must name the IdP we sent the person to (mix-up)."""
    iss = args.get("iss")
    if iss is None:
        if doc.get("authorization_response_iss_parameter_supported") is True:
            raise AuthenticationFailed("The identity provider response lacks its issuer.",
                                       code="iss_missing")
        return
    expected = doc["issuer"]
    if TENANT in expected:
        prefix, _, suffix = expected.partition(TENANT)
        tid = iss[len(prefix):len(iss) - len(suffix)] if iss.startswith(prefix) and \
            iss.endswith(suffix) else ""
        if tid and "/" not in tid:
            return  # the tenant itself is checked against the allow-list from the ID token
    elif hmac.compare_digest(iss, expected):
        return
    raise AuthenticationFailed("The response came from another identity provider.",
                               code="iss_mismatch")


def _redeem(s: Settings, doc: dict, code: str, verifier: str) -> dict:
    """RFC 6749 §4.1.3 token request with the PKCE verifier (RFC 7636 §4.5)."""
    methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    auth_method = "client_secret_basic" if "client_secret_basic" in methods \
        else "client_secret_post"
    client = OAuth2Session(s.client_id, s.client_secret, redirect_uri=s.redirect_uri,
                           token_endpoint_auth_method=auth_method)
    try:
        return dict(client.fetch_token(doc["token_endpoint"], code=code, code_verifier=verifier,
                                       timeout=http.TIMEOUT))
    except OAuthError as err:
        raise AuthenticationFailed("The identity provider did not accept the sign-in code.",
                                   code="token_exchange_failed", idp_error=err.error) from None
    except Exception:  # requests errors, invalid JSON from the token endpoint
        raise AuthenticationFailed("The identity provider's token endpoint failed.",
                                   code="token_exchange_failed") from None


def _keys(doc: dict, force: bool = False) -> KeySet:
    try:
        return KeySet.import_key_set(CACHE.get(doc["jwks_uri"], CACHE_TTL, force=force))
    except (ValueError, KeyError, TypeError, JoseError):
        raise AuthenticationFailed("The identity provider's keys are unreadable.",
                                   code="bad_jwks") from None


def validate_id_token(s: Settings, doc: dict, id_token: Any, nonce: str,
                      access_token: str | None = None) -> dict[str, Any]:
    """OIDC Core §3.1.3.7: signature, alg allow-list, iss, aud, azp, exp/iat, nonce."""
    if not isinstance(id_token, str):
        raise AuthenticationFailed("The identity provider sent no ID token.",
                                   code="missing_id_token")
    try:
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError):
        raise AuthenticationFailed("The ID token is malformed.", code="invalid_token") from None
    if header.get("alg") not in s.algorithms:
        raise AuthenticationFailed("The ID token uses a refused algorithm.", code="bad_alg")
    keys = _keys(doc)
    if header.get("kid") and not any(k.kid == header["kid"] for k in keys.keys):
        keys = _keys(doc, force=True)  # key rotation: refresh once on an unknown kid
    try:
        token = jwt.decode(id_token, keys, algorithms=list(s.algorithms))
    except (JoseError, ValueError):
        raise AuthenticationFailed("The ID token signature is invalid.",
                                   code="bad_signature") from None
    claims = dict(token.claims)
    issuer = _expected_issuer(doc["issuer"], claims)
    # authlib/joserfc: aud is checked only when given, and these options replace the default
    # iss check; the dict is mutated, so it is built fresh on every call.
    options = {"iss": {"essential": True, "value": issuer},
               "aud": {"essential": True, "value": s.client_id},
               "sub": {"essential": True}, "exp": {"essential": True},
               "iat": {"essential": True}, "nonce": {"essential": True}}
    checker = CodeIDToken(claims, token.header, options=options,
                          params={"nonce": nonce, "client_id": s.client_id,
                                  "access_token": access_token})
    try:
        checker.validate(leeway=s.leeway)
    except ExpiredTokenError:
        raise AuthenticationFailed("The ID token has expired.", code="token_expired") from None
    except (InvalidClaimError, MissingClaimError) as err:
        claim = getattr(err, "claim", "token")
        raise AuthenticationFailed(f"The ID token's {claim} claim is not acceptable.",
                                   code=f"invalid_{claim}"[:60]) from None
    except JoseError:
        raise AuthenticationFailed("The ID token is not acceptable.",
                                   code="invalid_token") from None
    return claims


def _expected_issuer(advertised: str, claims: Mapping[str, Any]) -> str:
    """Entra multi-tenant: resolve {tenantid} from the token's tid (checked by the preset)."""
    if TENANT not in advertised:
        return advertised
    tid = claims.get("tid")
    if not isinstance(tid, str) or not tid or "/" in tid:
        raise AuthenticationFailed("The ID token lacks a tenant id.", code="missing_claim")
    return advertised.replace(TENANT, tid)


def to_identity(s: Settings, claims: Mapping[str, Any]) -> Identity:
    """Preset checks, then the neutral Identity keyed on iss+sub (or Entra's tid+oid)."""
    preset = require_preset(s.preset)
    preset.check(claims, s.config)
    groups: list[str] = []
    for name in preset.groups_claims:
        value = claims.get(name)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            groups += [str(v) for v in value]
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    return Identity(
        external_id=preset.external_id(claims), email=email,
        email_verified=bool(email) and preset.email_verified(claims),
        source_username=str(claims.get("preferred_username") or email or "") or None,
        given_name=_text(claims.get("given_name")), family_name=_text(claims.get("family_name")),
        display_name=_text(claims.get("name")), groups=tuple(dict.fromkeys(groups)),
        link_data={"iss": claims.get("iss"), "sub": claims.get("sub")})


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None
