"""pysaml2 acting as a SAML 2.0 identity provider on a loopback port, for the SSO tests.

The test sets ``idp.user`` (and optionally ``idp.options``) and drives the browser part with
requests; the IdP answers the HTTP-Redirect AuthnRequest with an auto-posting HTML form, as a
real IdP does."""
from __future__ import annotations

import os
import re
import shutil
import threading
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from providers.saml import generate_sp_keypair

XMLSEC = shutil.which("xmlsec1")


class SamlIdP:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.port = self.server.server_port
        self.base = f"http://127.0.0.1:{self.port}"
        self.entity_id = self.base + "/idp"
        cert, key = generate_sp_keypair("pysaml2 test idp")
        self.cert_pem = cert
        self.cert_path = os.path.join(workdir, "idp.crt")
        self.key_path = os.path.join(workdir, "idp.key")
        with open(self.cert_path, "w") as fh:
            fh.write(cert)
        with open(self.key_path, "w") as fh:
            fh.write(key)
        self.sp_metadata: dict[str, str] = {}  # entity id -> metadata
        self.user: dict[str, Any] = {}
        self.options: dict[str, Any] = {}
        self.lifetime: dict[str, int] = {"minutes": 15}
        self.last_response: str | None = None
        self._idp = None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- pysaml2 ------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT
        return {
            "entityid": self.entity_id,
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(self.base + "/sso",
                                                          BINDING_HTTP_REDIRECT)]},
                "policy": {"default": {"lifetime": self.lifetime,
                                       "attribute_restrictions": None}},
                "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_EMAILADDRESS],
                "want_authn_requests_signed": False,
            }},
            "key_file": self.key_path, "cert_file": self.cert_path,
            "metadata": {"inline": list(self.sp_metadata.values())},
            "xmlsec_binary": XMLSEC,
            "accepted_time_diff": 60,
        }

    def idp(self):
        from saml2.config import IdPConfig
        from saml2.server import Server
        conf = IdPConfig()
        conf.load(self._config())
        return Server(config=conf)

    def add_sp(self, metadata_xml: str) -> None:
        entity_id = re.search(r'entityID="([^"]+)"', metadata_xml).group(1)
        self.sp_metadata[entity_id] = metadata_xml

    def metadata(self) -> str:
        from saml2.metadata import create_metadata_string
        conf = self._config()
        conf["metadata"] = {}
        return create_metadata_string(None, config=self._load(conf), valid=24).decode()

    @staticmethod
    def _load(conf):
        from saml2.config import IdPConfig
        c = IdPConfig()
        c.load(conf)
        return c

    def make_response(self, *, in_response_to: str | None, acs_url: str, sp_entity_id: str,
                      **overrides: Any) -> str:
        """A base64 SAMLResponse for ``self.user``, the way pysaml2 builds it."""
        import base64

        from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
        from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
        server = self.idp()
        opts = {"sign_assertion": True, "sign_response": False, "sign_alg": SIG_RSA_SHA256,
                "digest_alg": DIGEST_SHA256, **self.options, **overrides}
        audience = opts.pop("audience", sp_entity_id)
        user = dict(self.user)
        name_id = NameID(format=user.pop("nameid_format", NAMEID_FORMAT_PERSISTENT),
                         text=user.pop("nameid"))
        if audience != sp_entity_id:
            # pysaml2 only answers SPs it knows: fake a foreign audience via another SP entry.
            sp_entity_id = audience
        kwargs = dict(identity=user, in_response_to=in_response_to, destination=acs_url,
                      sp_entity_id=sp_entity_id, name_id=name_id,
                      authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
                      **opts)
        if opts.get("encrypt_assertion"):
            kwargs["encrypt_cert_assertion"] = opts.pop("encrypt_cert")
            kwargs.pop("encrypt_cert", None)
        resp = server.create_authn_response(**kwargs)
        self.last_response = str(resp)
        return base64.b64encode(str(resp).encode()).decode()

    # -- HTTP ---------------------------------------------------------------------------------
    @Request.application
    def _wsgi(self, request: Request) -> Response:
        if request.path == "/metadata":
            return Response(self.metadata(), mimetype="application/samlmetadata+xml")
        if request.path == "/sso":
            from saml2 import BINDING_HTTP_REDIRECT
            server = self.idp()
            req = server.parse_authn_request(request.args["SAMLRequest"], BINDING_HTTP_REDIRECT)
            msg = req.message
            saml_response = self.make_response(
                in_response_to=msg.id, acs_url=msg.assertion_consumer_service_url,
                sp_entity_id=msg.issuer.text)
            relay = request.args.get("RelayState", "")
            html = (f'<form method="post" action="{msg.assertion_consumer_service_url}">'
                    f'<input type="hidden" name="SAMLResponse" value="{saml_response}"/>'
                    f'<input type="hidden" name="RelayState" value="{relay}"/></form>')
            return Response(html, mimetype="text/html")
        return Response("not found", status=404)

    def close(self) -> None:
        self.server.shutdown()


def parse_form(html: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the IdP's auto-posting form."""
    action = re.search(r'action="([^"]+)"', html).group(1)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', html))
    return action, fields
