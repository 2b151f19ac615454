"""Outbound HTTP to identity providers: a time limit and a size limit on every fetch, errors
translated to AuthenticationFailed at this edge."""
from __future__ import annotations

import requests

from connector.errors import AuthenticationFailed

TIMEOUT = 5.0            # seconds, connect and read
MAX_BYTES = 1_000_000    # discovery documents, JWKS and SAML metadata are far smaller


def fetch(url: str, *, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES,
          method: str = "GET", **kwargs) -> requests.Response:
    """Fetch ``url`` reading at most ``max_bytes``; the body is on ``response.content``."""
    if not url.lower().startswith(("https://", "http://")):
        raise AuthenticationFailed("The identity provider URL must be http(s).", code="bad_idp_url")
    try:
        resp = requests.request(method, url, timeout=timeout, stream=True,
                                allow_redirects=False, **kwargs)
        body = bytearray()
        for chunk in resp.iter_content(65536):
            body += chunk
            if len(body) > max_bytes:
                resp.close()
                raise AuthenticationFailed(f"The identity provider sent more than {max_bytes} "
                                           "bytes.", code="idp_response_too_large")
        resp._content = bytes(body)
    except requests.RequestException:
        raise AuthenticationFailed("The identity provider could not be reached.",
                                   code="idp_unreachable") from None
    return resp


def fetch_json(url: str, **kwargs) -> dict:
    """GET a JSON object."""
    resp = fetch(url, **kwargs)
    if resp.status_code != 200:
        raise AuthenticationFailed(f"The identity provider answered HTTP {resp.status_code}.",
                                   code="idp_http_error")
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise AuthenticationFailed("The identity provider sent invalid JSON.",
                                   code="idp_invalid_json")
    return data
