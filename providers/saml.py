"""SAML 2.0 Web Browser SSO with python3-saml: turns a POSTed Response into an Identity or raises
AuthenticationFailed. Protocol only: the replay cache and the session live with the caller."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from connector.errors import AuthenticationFailed, InvalidInput
from connector.identity import Identity

from . import http

# Attribute names IdPs commonly release: Entra ID (claims URIs), Okta and Google (short names),
# and the eduPerson/X.500 OIDs.
EMAIL = ("email", "mail", "emailaddress", "urn:oid:0.9.2342.19200300.100.1.3",
         "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress")
GIVEN = ("firstName", "givenName", "given_name", "urn:oid:2.5.4.42",
         "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname")
FAMILY = ("lastName", "surname", "sn", "family_name", "urn:oid:2.5.4.4",
          "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname")
DISPLAY = ("displayName", "name", "urn:oid:2.16.840.1.113730.3.1.241",
           "http://schemas.microsoft.com/identity/claims/displayname")
GROUPS = ("groups", "group", "memberOf", "isMemberOf", "role", "roles",
          "urn:oid:1.3.6.1.4.1.5923.1.5.1.1", "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
          "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
          "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")


@dataclass(frozen=True)
class Settings:
    """One SAML connection, as the provider needs it."""

    sp_entity_id: str
    acs_url: str
    sp_cert: str
    sp_key: str
    idp_entity_id: str
    idp_sso_url: str
    idp_certs: tuple[str, ...]
    sign_requests: bool = False
    want_encrypted: bool = False
    allow_idp_initiated: bool = False
    id_attribute: str = ""            # a persistent attribute to key on instead of NameID
    email_verified: bool = True       # the IdP vouches for the email attribute
    clock_skew: int = 120
    attributes: Mapping[str, str] = field(default_factory=dict)  # email/given/family/groups

    def onelogin(self) -> dict[str, Any]:
        """python3-saml settings, strict: it checks nothing important otherwise."""
        return {
            "strict": True, "debug": False,
            "sp": {"entityId": self.sp_entity_id,
                   "assertionConsumerService": {
                       "url": self.acs_url,
                       "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST},
                   "NameIDFormat": OneLogin_Saml2_Constants.NAMEID_UNSPECIFIED,
                   "x509cert": self.sp_cert, "privateKey": self.sp_key},
            "idp": {"entityId": self.idp_entity_id,
                    "singleSignOnService": {
                        "url": self.idp_sso_url,
                        "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT},
                    # Several signing certificates: the IdP may be rotating its key.
                    "x509certMulti": {"signing": list(self.idp_certs)}},
            "security": {
                "authnRequestsSigned": self.sign_requests,
                "wantAssertionsSigned": True,       # else an unsigned assertion in a signed
                "wantMessagesSigned": False,        # response passes; Entra signs the assertion
                "wantAssertionsEncrypted": self.want_encrypted,
                "wantNameId": True,
                "rejectDeprecatedAlgorithm": True,  # no SHA-1 signatures or digests
                "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
                "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
                "requestedAuthnContext": False,
                "allowRepeatAttributeName": True,
                "wantXMLValidation": True,
            },
        }


def _auth(s: Settings, request_data: dict[str, Any]) -> OneLogin_Saml2_Auth:
    try:
        return OneLogin_Saml2_Auth(request_data, old_settings=s.onelogin())
    except OneLogin_Saml2_Error as err:
        raise AuthenticationFailed("The SAML connection is misconfigured.",
                                   code="saml_misconfigured", detail=str(err)[:200]) from None


def begin(s: Settings, request_data: dict[str, Any],
          relay_for: Callable[[str], str]) -> tuple[str, str]:
    """The IdP URL carrying our AuthnRequest (HTTP-Redirect binding), and the request id.
    ``relay_for(request_id)`` builds the RelayState, so it can carry the request id itself."""
    auth = _auth(s, request_data)
    url = auth.login()
    rid = auth.get_last_request_id()
    params = {"SAMLRequest": parse_qs(urlsplit(url).query)["SAMLRequest"][0],
              "RelayState": relay_for(rid)}
    if s.sign_requests:
        # SAML bindings §3.4.4.1: the signature covers SAMLRequest, RelayState and SigAlg.
        auth.add_request_signature(params, OneLogin_Saml2_Constants.RSA_SHA256)
    return auth.redirect_to(s.idp_sso_url, params), rid


def finish(s: Settings, request_data: dict[str, Any], request_id: str | None
           ) -> tuple[Identity, dict[str, Any], str, int | None]:
    """Validate the POSTed Response. Returns the identity, the attributes, the assertion id
    and its NotOnOrAfter (for the caller's replay cache)."""
    # python3-saml reads its clock drift from a class constant; one value serves the process.
    OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT = s.clock_skew
    auth = _auth(s, request_data)
    try:
        auth.process_response(request_id=request_id)
    except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as err:
        raise AuthenticationFailed("The SAML response could not be read.",
                                   code="saml_invalid", detail=str(err)[:200]) from None
    except Exception:  # malformed base64/XML reaching lxml or xmlsec
        raise AuthenticationFailed("The SAML response could not be read.",
                                   code="saml_invalid") from None
    if auth.get_errors() or not auth.is_authenticated():
        reason = auth.get_last_error_reason() or ""
        raise AuthenticationFailed("The SAML response was not accepted.",
                                   code=_reason_code(reason), detail=reason[:300])
    in_response_to = auth.get_last_response_in_response_to()
    # python3-saml accepts a response without InResponseTo even when given the request id.
    if request_id is not None and in_response_to != request_id:
        raise AuthenticationFailed("The SAML response does not answer our request.",
                                   code="unsolicited_response")
    if request_id is None:
        if in_response_to:
            raise AuthenticationFailed("The SAML response answers a request this browser did "
                                       "not make, or that expired.", code="unknown_request")
        if not s.allow_idp_initiated:
            raise AuthenticationFailed("Sign-in started at the identity provider is turned "
                                       "off for this connection.", code="unsolicited_response")
    assertion_id = auth.get_last_assertion_id()
    if not assertion_id:
        raise AuthenticationFailed("The SAML assertion has no id.", code="saml_invalid")
    attributes = {k: list(v) for k, v in auth.get_attributes().items()}
    identity = to_identity(s, auth.get_nameid(), auth.get_nameid_format(), attributes)
    return identity, {"nameid": auth.get_nameid(), "nameid_format": auth.get_nameid_format(),
                      "attributes": attributes}, assertion_id, \
        auth.get_last_assertion_not_on_or_after()


def _reason_code(reason: str) -> str:
    text = reason.lower()
    for needle, code in (("signature", "bad_signature"), ("audience", "wrong_audience"),
                         ("expired", "expired"), ("notonorafter", "expired"),
                         ("inresponseto", "unsolicited_response"),
                         ("destination", "wrong_destination"), ("recipient", "wrong_recipient"),
                         ("issuer", "wrong_issuer"), ("deprecated", "deprecated_algorithm"),
                         ("encrypted", "not_encrypted"), ("status code", "idp_error"),
                         ("too early", "not_yet_valid"), ("notbefore", "not_yet_valid")):
        if needle in text:
            return code
    return "saml_invalid"


def _first(attributes: Mapping[str, list[str]], names: tuple[str, ...], configured: str = ""):
    for name in ((configured,) if configured else ()) + names:
        values = attributes.get(name)
        if values:
            return str(values[0])
    return None


def to_identity(s: Settings, nameid: str | None, nameid_format: str | None,
                attributes: Mapping[str, list[str]]) -> Identity:
    """Key on NameID (or the configured persistent attribute), never on the email."""
    key = _first(attributes, (), s.id_attribute) if s.id_attribute else nameid
    if not key:
        raise AuthenticationFailed("The SAML assertion lacks the identifier attribute.",
                                   code="missing_claim")
    a = s.attributes
    email = _first(attributes, EMAIL, a.get("email", ""))
    if email is None and nameid_format == OneLogin_Saml2_Constants.NAMEID_EMAIL_ADDRESS:
        email = nameid
    group_names = (a["groups"],) if a.get("groups") else GROUPS
    groups = [str(v) for n in group_names for v in attributes.get(n, [])]
    return Identity(
        external_id=key, email=email, email_verified=bool(email) and s.email_verified,
        source_username=(nameid or "")[:300] or None,
        given_name=_first(attributes, GIVEN, a.get("given_name", "")),
        family_name=_first(attributes, FAMILY, a.get("family_name", "")),
        display_name=_first(attributes, DISPLAY, a.get("display_name", "")),
        groups=tuple(dict.fromkeys(groups)), link_data={"nameid_format": nameid_format})


def sp_metadata(s: Settings) -> str:
    """The SP metadata document an IdP admin imports."""
    settings = OneLogin_Saml2_Settings(s.onelogin(), sp_validation_only=True)
    xml = settings.get_sp_metadata()
    errors = settings.validate_metadata(xml)
    if errors:
        raise InvalidInput("The SP metadata is invalid: " + ", ".join(errors),
                           code="bad_sp_metadata")
    return xml.decode() if isinstance(xml, bytes) else xml


def parse_idp_metadata(xml: str | bytes, entity_id: str | None = None) -> dict[str, Any]:
    """Entity id, SSO URL and every signing certificate of an IdP metadata document.
    python3-saml parses it with DTDs and entities forbidden (no XXE, no billion laughs)."""
    try:
        data = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
            entity_id=entity_id)
    except Exception:
        raise InvalidInput("The IdP metadata is not valid SAML metadata XML.",
                           code="bad_idp_metadata") from None
    idp = data.get("idp") or {}
    certs = list((idp.get("x509certMulti") or {}).get("signing") or [])
    if idp.get("x509cert"):
        certs.append(idp["x509cert"])
    sso = (idp.get("singleSignOnService") or {}).get("url")
    if not idp.get("entityId") or not sso or not certs:
        raise InvalidInput("The IdP metadata needs an entity id, an HTTP-Redirect SSO "
                           "endpoint and a signing certificate.", code="bad_idp_metadata")
    return {"entity_id": idp["entityId"], "sso_url": sso,
            "certs": list(dict.fromkeys(c.strip() for c in certs))}


def fetch_idp_metadata(url: str, *, timeout: float = http.TIMEOUT,
                       max_bytes: int = http.MAX_BYTES) -> str:
    """GET metadata with a time and size limit (a hostile URL cannot stall or fill memory)."""
    try:
        resp = http.fetch(url, timeout=timeout, max_bytes=max_bytes)
    except AuthenticationFailed as err:
        raise InvalidInput(err.message, code=err.code) from None
    if resp.status_code != 200:
        raise InvalidInput(f"The metadata URL answered HTTP {resp.status_code}.",
                           code="idp_http_error")
    return resp.content.decode("utf-8", "replace")


def generate_sp_keypair(common_name: str, years: int = 10) -> tuple[str, str]:
    """A self-signed certificate and RSA key for signing requests and decrypting assertions."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .sign(key, hashes.SHA256()))
    pem_cert = cert.public_bytes(serialization.Encoding.PEM).decode()
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem_cert, pem_key
