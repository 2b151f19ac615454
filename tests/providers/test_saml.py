"""providers.saml against pysaml2 acting as the IdP; canned edits only for attacks a real IdP
never sends (XML signature wrapping, comment injection, tampering, XXE)."""
from __future__ import annotations

import base64
import re
import socket
import threading

import pytest
import requests

from connector.errors import AuthenticationFailed, InvalidInput
from providers import saml
from tests.providers.saml_idp import parse_form

pytestmark = pytest.mark.slow
SP = "http://localhost/sso/acme/saml/metadata"
ACS = "http://localhost/sso/acme/saml/acs"
REQUEST = {"https": "off", "http_host": "localhost", "server_port": "80",
           "script_name": "/sso/acme/saml/acs", "get_data": {}}
USER = {"nameid": "id-alice", "mail": ["alice@acme.test"], "givenName": ["Alice"],
        "sn": ["Archer"], "displayName": ["Alice Archer"], "isMemberOf": ["engineering"]}


@pytest.fixture(scope="module")
def sp_keys():
    return saml.generate_sp_keypair("test sp")


@pytest.fixture
def idp(saml_idp):
    saml_idp.user, saml_idp.options, saml_idp.lifetime = dict(USER), {}, {"minutes": 15}
    return saml_idp


def make_settings(idp, sp_keys, **kw) -> saml.Settings:
    info = saml.parse_idp_metadata(requests.get(idp.base + "/metadata", timeout=5).text)
    s = saml.Settings(sp_entity_id=SP, acs_url=ACS, sp_cert=sp_keys[0], sp_key=sp_keys[1],
                      idp_entity_id=info["entity_id"], idp_sso_url=info["sso_url"],
                      idp_certs=kw.pop("idp_certs", tuple(info["certs"])), **kw)
    idp.add_sp(saml.sp_metadata(s))
    return s


def login(idp, s):
    """SP-initiated: our AuthnRequest through the IdP; the request id and the SAMLResponse."""
    url, rid = saml.begin(s, {**REQUEST, "post_data": {}}, lambda rid: "relay")
    _, fields = parse_form(requests.get(url, timeout=5).text)
    return rid, fields["SAMLResponse"]


def finish(s, response_b64, rid):
    return saml.finish(s, {**REQUEST, "post_data": {"SAMLResponse": response_b64}}, rid)


def xml_of(b64: str) -> str:
    return base64.b64decode(b64).decode()


def b64_of(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def refused(s, response_b64, rid) -> str:
    with pytest.raises(AuthenticationFailed) as err:
        finish(s, response_b64, rid)
    return err.value.code


def test_signed_assertion_gives_identity_keyed_on_nameid(idp, sp_keys):
    s = make_settings(idp, sp_keys)
    rid, resp = login(idp, s)
    identity, attrs, assertion_id, not_after = finish(s, resp, rid)
    assert identity.external_id == "id-alice"
    assert (identity.email, identity.given_name, identity.family_name) == \
        ("alice@acme.test", "Alice", "Archer")
    assert identity.groups == ("engineering",)
    assert assertion_id and not_after


def test_tampered_attribute_breaks_the_signature(idp, sp_keys):
    s = make_settings(idp, sp_keys)
    rid, resp = login(idp, s)
    forged = xml_of(resp).replace("alice@acme.test", "ceo@acme.test")
    assert refused(s, b64_of(forged), rid) in ("bad_signature", "saml_invalid")


def test_wrong_audience_is_refused(idp, sp_keys):
    s = make_settings(idp, sp_keys)
    other = make_settings(idp, sp_keys, ).__class__(**{**s.__dict__,
                                                       "sp_entity_id": SP.replace("acme", "zeta")})
    idp.add_sp(saml.sp_metadata(other))
    rid, _ = login(idp, s)
    resp = idp.make_response(in_response_to=rid, acs_url=ACS, sp_entity_id=other.sp_entity_id)
    assert refused(s, resp, rid) == "wrong_audience"


def test_expired_assertion_is_refused(idp, sp_keys):
    s = make_settings(idp, sp_keys, clock_skew=30)
    rid, _ = login(idp, s)
    idp.lifetime = {"minutes": -10}
    resp = idp.make_response(in_response_to=rid, acs_url=ACS, sp_entity_id=SP)
    assert refused(s, resp, rid) == "expired"


def test_unsolicited_response_is_refused_by_default(idp, sp_keys):
    s = make_settings(idp, sp_keys)
    resp = idp.make_response(in_response_to=None, acs_url=ACS, sp_entity_id=SP)
    assert refused(s, resp, None) == "unsolicited_response"


def test_idp_initiated_is_accepted_when_enabled(idp, sp_keys):
    s = make_settings(idp, sp_keys, allow_idp_initiated=True)
    resp = idp.make_response(in_response_to=None, acs_url=ACS, sp_entity_id=SP)
    identity, *_ = finish(s, resp, None)
    assert identity.external_id == "id-alice"


def test_response_without_in_response_to_is_refused_when_we_sent_a_request(idp, sp_keys):
    # python3-saml itself accepts this: the check is ours.
    s = make_settings(idp, sp_keys, allow_idp_initiated=True)
    rid, _ = login(idp, s)
    resp = idp.make_response(in_response_to=None, acs_url=ACS, sp_entity_id=SP)
    assert refused(s, resp, rid) == "unsolicited_response"


def test_response_to_another_request_is_refused(idp, sp_keys):
    s = make_settings(idp, sp_keys)
    rid, _ = login(idp, s)
    resp = idp.make_response(in_response_to="ONELOGIN_other", acs_url=ACS, sp_entity_id=SP)
    assert refused(s, resp, rid) == "unsolicited_response"
    assert refused(s, resp, None) == "unknown_request"


def test_unsigned_assertion_in_signed_response_is_refused(idp, sp_keys):
    s = make_settings(idp, sp_keys)
    rid, _ = login(idp, s)
    resp = idp.make_response(in_response_to=rid, acs_url=ACS, sp_entity_id=SP,
                             sign_assertion=False, sign_response=True)
    assert refused(s, resp, rid) in ("bad_signature", "saml_invalid")


def test_sha1_signature_is_refused(idp, sp_keys):
    from saml2.xmldsig import DIGEST_SHA1, SIG_RSA_SHA1
    s = make_settings(idp, sp_keys)
    rid, _ = login(idp, s)
    resp = idp.make_response(in_response_to=rid, acs_url=ACS, sp_entity_id=SP,
                             sign_alg=SIG_RSA_SHA1, digest_alg=DIGEST_SHA1)
    assert refused(s, resp, rid) in ("deprecated_algorithm", "bad_signature")


def test_comment_in_nameid_does_not_truncate_it(idp, sp_keys):
    """CVE-2017-11427: a comment splits the NameID text node; the signature still holds."""
    idp.user = {**USER, "nameid": "alice@acme.test.evil.test"}
    s = make_settings(idp, sp_keys)
    rid, resp = login(idp, s)
    injected = xml_of(resp).replace("alice@acme.test.evil.test",
                                    "alice@acme.test<!---->.evil.test")
    assert "<!---->" in injected
    identity, *_ = finish(s, b64_of(injected), rid)
    assert identity.external_id == "alice@acme.test.evil.test"


def test_signature_wrapping_with_a_second_assertion_is_refused(idp, sp_keys):
    s = make_settings(idp, sp_keys)
    rid, resp = login(idp, s)
    xml = xml_of(resp)
    m = re.search(r"<(\w+:)?Assertion[ >].*</(\w+:)?Assertion>", xml, re.S)
    evil = re.sub(r'ID="[^"]+"', 'ID="evil-1"', m.group(0), count=1)
    evil = re.sub(r"<ds:Signature.*?</ds:Signature>", "", evil, flags=re.S)
    evil = evil.replace("id-alice", "id-admin")
    wrapped = xml[:m.start()] + evil + xml[m.start():]
    assert refused(s, b64_of(wrapped), rid) in ("saml_invalid", "bad_signature")


def test_encrypted_assertion_is_decrypted_with_the_sp_key(idp, sp_keys):
    s = make_settings(idp, sp_keys, want_encrypted=True)
    rid, _ = login(idp, s)
    resp = idp.make_response(in_response_to=rid, acs_url=ACS, sp_entity_id=SP,
                             encrypt_assertion=True, encrypt_cert=sp_keys[0],
                             # pysaml2's self-contained encryption moves namespaces under the
                             # assertion's signature; its classic mode is what IdPs send.
                             sign_response=True, encrypt_assertion_self_contained=False)
    assert "EncryptedAssertion" in xml_of(resp)
    identity, *_ = finish(s, resp, rid)
    assert identity.external_id == "id-alice"


def test_plain_assertion_is_refused_when_encryption_is_required(idp, sp_keys):
    s = make_settings(idp, sp_keys, want_encrypted=True)
    rid, resp = login(idp, s)
    assert refused(s, resp, rid) in ("not_encrypted", "saml_invalid")


def test_any_of_several_idp_certificates_verifies_during_rotation(idp, sp_keys):
    retired, _ = saml.generate_sp_keypair("retired idp key")
    info = saml.parse_idp_metadata(requests.get(idp.base + "/metadata", timeout=5).text)
    s = make_settings(idp, sp_keys, idp_certs=(retired, *info["certs"]))
    rid, resp = login(idp, s)
    assert finish(s, resp, rid)[0].external_id == "id-alice"
    only_retired = make_settings(idp, sp_keys, idp_certs=(retired,))
    rid, resp = login(idp, only_retired)
    assert refused(only_retired, resp, rid) in ("bad_signature", "saml_invalid")


def test_metadata_with_external_entities_is_refused(idp):
    xml = requests.get(idp.base + "/metadata", timeout=5).text
    evil = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + \
        xml.replace("<ns0:EntityDescriptor", "<ns0:EntityDescriptor data=\"&x;\"", 1)
    with pytest.raises(InvalidInput):
        saml.parse_idp_metadata(evil)


def test_metadata_url_fetch_has_a_size_limit(idp):
    with pytest.raises(InvalidInput) as err:
        saml.fetch_idp_metadata(idp.base + "/metadata", max_bytes=200)
    assert err.value.code == "idp_response_too_large"


def test_metadata_url_fetch_has_a_time_limit():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    try:
        with pytest.raises(InvalidInput) as err:
            saml.fetch_idp_metadata(f"http://127.0.0.1:{silent.getsockname()[1]}/m", timeout=0.5)
        assert err.value.code == "idp_unreachable"
    finally:
        silent.close()


def test_signed_authn_request_carries_a_valid_redirect_binding_signature(idp, sp_keys):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    s = make_settings(idp, sp_keys, sign_requests=True)
    url, _ = saml.begin(s, {**REQUEST, "post_data": {}}, lambda rid: f"relay-{rid}")
    query = url.split("?", 1)[1]
    parts = dict(p.split("=", 1) for p in query.split("&"))
    # SAML bindings §3.4.4.1: the signature covers the URL-encoded SAMLRequest, RelayState, SigAlg.
    signed = "&".join(f"{k}={parts[k]}" for k in ("SAMLRequest", "RelayState", "SigAlg"))
    from urllib.parse import unquote
    signature = base64.b64decode(unquote(parts["Signature"]))
    key = x509.load_pem_x509_certificate(sp_keys[0].encode()).public_key()
    key.verify(signature, signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert "rsa-sha256" in unquote(parts["SigAlg"])
