"""providers.oidc against panva/oidc-provider: ID token checks with real tokens, discovery and
JWKS caching; canned changes only for what a real IdP never sends (tampering)."""
from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from joserfc.jwk import RSAKey

from connector.errors import AuthenticationFailed
from providers import oidc
from tests.providers.idps import OidcIdP, drive_idp

pytestmark = pytest.mark.slow
REDIRECT = "http://localhost/sso/acme/idp/callback"


def settings(idp, client_id="generic", **kw) -> oidc.Settings:
    return oidc.Settings(issuer=idp.issuer, client_id=client_id,
                         client_secret=OidcIdP.secret(client_id), redirect_uri=REDIRECT, **kw)


def real_tokens(idp, client_id="generic", login="alice") -> tuple[dict, dict, dict]:
    """Run the code flow for real; the token response, the pending state and the callback."""
    s = settings(idp, client_id)
    url, pending = oidc.begin(s)
    args = dict(parse_qsl(urlsplit(drive_idp(url, login)).query))
    token = oidc._redeem(s, oidc.metadata(s), args["code"], pending["verifier"])
    return token, pending, args


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_authorization_url_uses_pkce_s256_state_and_nonce(oidc_idp):
    url, pending = oidc.begin(settings(oidc_idp))
    q = dict(parse_qsl(urlsplit(url).query))
    assert q["code_challenge_method"] == "S256" and q["code_challenge"]
    assert q["state"] == pending["state"] and q["nonce"] == pending["nonce"]
    assert pending["verifier"] not in url


def test_finish_returns_identity_keyed_on_issuer_and_sub(oidc_idp):
    s = settings(oidc_idp)
    url, pending = oidc.begin(s)
    args = dict(parse_qsl(urlsplit(drive_idp(url, "alice")).query))
    identity, claims = oidc.finish(s, args, pending)
    assert identity.external_id == f"{oidc_idp.issuer}|alice"
    assert identity.email == "alice@acme.test" and identity.email_verified
    assert identity.groups == ("engineering",)
    assert claims["aud"] == "generic"


def test_tampered_id_token_is_refused(oidc_idp):
    token, pending, _ = real_tokens(oidc_idp)
    header, payload, sig = token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "ceo@acme.test"
    forged = ".".join([header, _b64(claims), sig])
    s = settings(oidc_idp)
    with pytest.raises(AuthenticationFailed) as err:
        oidc.validate_id_token(s, oidc.metadata(s), forged, pending["nonce"])
    assert err.value.code == "bad_signature"


def test_unsigned_alg_none_token_is_refused(oidc_idp):
    token, pending, _ = real_tokens(oidc_idp)
    _, payload, _ = token["id_token"].split(".")
    forged = _b64({"alg": "none", "typ": "JWT"}) + "." + payload + "."
    s = settings(oidc_idp)
    with pytest.raises(AuthenticationFailed) as err:
        oidc.validate_id_token(s, oidc.metadata(s), forged, pending["nonce"])
    assert err.value.code == "bad_alg"


def test_token_for_another_client_is_refused_wrong_audience(oidc_idp):
    token, pending, _ = real_tokens(oidc_idp, client_id="other")
    s = settings(oidc_idp, "generic")
    with pytest.raises(AuthenticationFailed) as err:
        oidc.validate_id_token(s, oidc.metadata(s), token["id_token"], pending["nonce"])
    assert err.value.code == "invalid_aud"


def test_expired_id_token_is_refused(oidc_idp):
    token, pending, _ = real_tokens(oidc_idp, client_id="short")  # 1 second lifetime
    time.sleep(2.1)
    s = settings(oidc_idp, "short", leeway=0)
    with pytest.raises(AuthenticationFailed) as err:
        oidc.validate_id_token(s, oidc.metadata(s), token["id_token"], pending["nonce"])
    assert err.value.code == "token_expired"


def test_nonce_mismatch_is_refused(oidc_idp):
    token, _, _ = real_tokens(oidc_idp)
    s = settings(oidc_idp)
    with pytest.raises(AuthenticationFailed) as err:
        oidc.validate_id_token(s, oidc.metadata(s), token["id_token"], "another-nonce")
    assert err.value.code == "invalid_nonce"


def test_algorithm_outside_the_allow_list_is_refused(oidc_idp):
    token, pending, _ = real_tokens(oidc_idp)
    s = settings(oidc_idp, algorithms=("ES256",))  # the IdP signs with RS256
    with pytest.raises(AuthenticationFailed) as err:
        oidc.validate_id_token(s, oidc.metadata(s), token["id_token"], pending["nonce"])
    assert err.value.code == "bad_alg"


def test_issuer_mismatch_is_refused(oidc_idp):
    token, pending, _ = real_tokens(oidc_idp)
    s = settings(oidc_idp)
    doc = {**oidc.metadata(s), "issuer": "https://login.example.test"}
    with pytest.raises(AuthenticationFailed) as err:
        oidc.validate_id_token(s, doc, token["id_token"], pending["nonce"])
    assert err.value.code == "invalid_iss"


def test_code_cannot_be_redeemed_twice(oidc_idp):
    s = settings(oidc_idp)
    url, pending = oidc.begin(s)
    args = dict(parse_qsl(urlsplit(drive_idp(url, "alice")).query))
    oidc.finish(s, args, pending)
    with pytest.raises(AuthenticationFailed) as err:
        oidc.finish(s, args, pending)
    assert err.value.code == "token_exchange_failed"


def test_wrong_pkce_verifier_is_refused_by_the_idp(oidc_idp):
    s = settings(oidc_idp)
    url, pending = oidc.begin(s)
    args = dict(parse_qsl(urlsplit(drive_idp(url, "alice")).query))
    with pytest.raises(AuthenticationFailed) as err:
        oidc.finish(s, args, {**pending, "verifier": "x" * 64})
    assert err.value.code == "token_exchange_failed"


def test_discovery_and_jwks_are_fetched_once_then_cached(oidc_idp):
    oidc.CACHE.clear()
    before = oidc.CACHE.fetches
    for _ in range(3):
        token, pending, _ = real_tokens(oidc_idp)
        s = settings(oidc_idp)
        oidc.validate_id_token(s, oidc.metadata(s), token["id_token"], pending["nonce"])
    assert oidc.CACHE.fetches - before == 2  # one discovery document, one JWKS


def test_unknown_kid_refreshes_the_jwks_once(oidc_idp):
    token, pending, _ = real_tokens(oidc_idp)
    s = settings(oidc_idp)
    doc = oidc.metadata(s)
    # Pretend the cached JWKS predates a key rotation: it holds no key with this kid.
    with oidc.CACHE.lock:
        old_key = RSAKey.generate_key(2048, {"kid": "retired"}).as_dict(private=False)
        oidc.CACHE.docs[doc["jwks_uri"]] = (time.monotonic() - 60, {"keys": [old_key]})
    before = oidc.CACHE.fetches
    oidc.validate_id_token(s, doc, token["id_token"], pending["nonce"])
    assert oidc.CACHE.fetches == before + 1


def test_entra_multi_tenant_issuer_is_resolved_from_tid():
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert oidc._expected_issuer(template, {"tid": "abc"}) == \
        "https://login.microsoftonline.com/abc/v2.0"
    with pytest.raises(AuthenticationFailed):
        oidc._expected_issuer(template, {"tid": "a/../b"})
    with pytest.raises(AuthenticationFailed):
        oidc._expected_issuer(template, {})


def test_rfc9207_iss_parameter_with_tenant_template():
    s = oidc.Settings(issuer="https://login.microsoftonline.com/organizations/v2.0",
                      client_id="c", client_secret="s", redirect_uri=REDIRECT)
    doc = {"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
    oidc._check_iss_parameter(s, doc, {"iss": "https://login.microsoftonline.com/t1/v2.0"})
    with pytest.raises(AuthenticationFailed):
        oidc._check_iss_parameter(s, doc, {"iss": "https://evil.test/t1/v2.0"})
