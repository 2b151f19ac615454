"""The /scim/v2 routing table (RFC 7644 §3): parse -> service -> serialize; errors in the SCIM
error schema, responses as application/scim+json."""
from __future__ import annotations

import json
import logging
from functools import wraps
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from connector import db
from connector.errors import ConnectorError

from . import bulk, discovery, errors, requestlog, service
from .auth import base_url, tenant
from .context import etag
from .resource import split_list
from .schemas import SCHEMAS, SEARCH_REQUEST

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
bp.before_request(requestlog.start)
bp.after_request(requestlog.finish)
log = logging.getLogger(__name__)
MEDIA_TYPE = "application/scim+json"
KINDS = {"Users": "User", "Groups": "Group"}


def respond(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    data = "" if body is None else json.dumps(body)
    return Response(data, status=status, mimetype=None if body is None else MEDIA_TYPE,
                    headers=headers or {})


def scim_view(fn):
    """Authenticate the token and open the request's transaction, which also logs it."""
    @wraps(fn)
    def view(**kwargs):
        with db.transaction() as session:
            response = fn(session, tenant(session), **kwargs)
            requestlog.write(session, response)
        requestlog.written()
        return response
    return view


def read_json() -> Any:
    """The body as JSON; application/scim+json and application/json are both accepted."""
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise errors.InvalidSyntax("The request body is not valid JSON.") from None


def _resource_response(session, t, kind: str, obj, status: int = 200, new: bool = False) -> Response:
    a = request.args
    body = service.render(session, t, kind, obj, split_list(a.get("attributes")),
                          split_list(a.get("excludedAttributes")), new=new)
    headers = {"ETag": etag(obj.version)}
    if status == 201:
        headers["Location"] = body["meta"]["location"]
    return respond(body, status, headers)


# -- discovery (no token needed: nothing here is tenant data) ----------------------------------

@bp.get("/ServiceProviderConfig")
def service_provider_config():
    return respond(discovery.service_provider_config(base_url()))


@bp.get("/ResourceTypes")
def resource_types():
    return respond(discovery.list_response(discovery.resource_types(base_url())))


@bp.get("/ResourceTypes/<name>")
def resource_type(name):
    for rt in discovery.resource_types(base_url()):
        if rt["id"].lower() == name.lower():
            return respond(rt)
    raise errors.NotFound(f"No resource type {name}.")


@bp.get("/Schemas")
def schemas():
    return respond(discovery.list_response(discovery.schemas(base_url())))


@bp.get("/Schemas/<path:uri>")
def schema(uri):
    for known in SCHEMAS:
        if known.lower() == uri.lower():
            return respond(discovery.schemas(base_url())[list(SCHEMAS).index(known)])
    raise errors.NotFound(f"No schema {uri}.")


# -- Users and Groups -------------------------------------------------------------------------

@bp.get("/<any(Users, Groups):endpoint>")
@scim_view
def list_resources(session, t, endpoint):
    a = request.args
    q = service.make_query(a.get("filter"), a.get("sortBy"), a.get("sortOrder"),
                           a.get("startIndex"), a.get("count"), split_list(a.get("attributes")),
                           split_list(a.get("excludedAttributes")))
    return respond(service.search(session, t, KINDS[endpoint], q))


@bp.post("/.search", defaults={"endpoint": None})
@bp.post("/<any(Users, Groups):endpoint>/.search")
@scim_view
def search_resources(session, t, endpoint):
    # RFC 7644 §3.4.3: the same query as a SearchRequest body (at the root: every type).
    body = read_json()
    if not isinstance(body, dict) or SEARCH_REQUEST not in (body.get("schemas") or []):
        raise errors.InvalidSyntax(f"A search body needs schemas [\"{SEARCH_REQUEST}\"].")
    b = {k.lower(): v for k, v in body.items()}
    listify = lambda v: v if isinstance(v, list) else split_list(v)  # noqa: E731
    q = service.make_query(b.get("filter"), b.get("sortby"), b.get("sortorder"),
                           b.get("startindex"), b.get("count"), listify(b.get("attributes")),
                           listify(b.get("excludedattributes")))
    if endpoint is None:
        return respond(service.search_all(session, t, q))
    return respond(service.search(session, t, KINDS[endpoint], q))


@bp.post("/<any(Users, Groups):endpoint>")
@scim_view
def create_resource(session, t, endpoint):
    kind = KINDS[endpoint]
    obj = service.create(session, t, kind, read_json())
    return _resource_response(session, t, kind, obj, 201, new=True)


@bp.get("/<any(Users, Groups):endpoint>/<scim_id>")
@scim_view
def get_resource(session, t, endpoint, scim_id):
    kind = KINDS[endpoint]
    obj = service.get(session, t, kind, scim_id)
    inm = request.headers.get("If-None-Match")
    if inm and etag(obj.version) in {v.strip() for v in inm.split(",")} | {"*"} - {""}:
        return respond(None, 304, {"ETag": etag(obj.version)})
    return _resource_response(session, t, kind, obj)


@bp.put("/<any(Users, Groups):endpoint>/<scim_id>")
@scim_view
def replace_resource(session, t, endpoint, scim_id):
    kind = KINDS[endpoint]
    obj = service.replace(session, t, kind, scim_id, read_json(),
                          request.headers.get("If-Match"))
    return _resource_response(session, t, kind, obj)


@bp.patch("/<any(Users, Groups):endpoint>/<scim_id>")
@scim_view
def patch_resource(session, t, endpoint, scim_id):
    kind = KINDS[endpoint]
    obj = service.patch(session, t, kind, scim_id, read_json(), request.headers.get("If-Match"))
    if kind == "Group" and not request.args.get("attributes"):
        # RFC 7644 §3.5.2: 204 is allowed; a group of 50,000 members is not re-sent per change.
        return respond(None, 204, {"ETag": etag(obj.version)})
    return _resource_response(session, t, kind, obj)


@bp.delete("/<any(Users, Groups):endpoint>/<scim_id>")
@scim_view
def delete_resource(session, t, endpoint, scim_id):
    service.delete(session, t, KINDS[endpoint], scim_id, request.headers.get("If-Match"))
    return respond(None, 204)


@bp.post("/Bulk")
def bulk_request():
    lim = discovery.limits()
    # RFC 7644 §3.7.4: a payload over maxPayloadSize is 413, checked before reading it.
    if (request.content_length or 0) > lim["max_payload"]:
        raise errors.PayloadTooLarge(f"The payload exceeds maxPayloadSize "
                                     f"({lim['max_payload']} bytes).")
    with db.transaction() as session:
        t = tenant(session)
        raw = request.get_data(cache=True)
        if len(raw) > lim["max_payload"]:
            raise errors.PayloadTooLarge(f"The payload exceeds maxPayloadSize "
                                         f"({lim['max_payload']} bytes).")
        response = respond(bulk.run(session, t, read_json(), lim["max_operations"]))
        requestlog.write(session, response)
    requestlog.written()
    return response


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything):
    raise errors.NotFound("No such SCIM endpoint.")


# -- errors: always the SCIM error schema, never a traceback ----------------------------------

@bp.errorhandler(errors.ScimError)
def _scim_error(err: errors.ScimError):
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if err.status == 401 else {}
    return respond(err.body(), err.status, headers)


@bp.errorhandler(ConnectorError)
def _domain_error(err: ConnectorError):
    return _scim_error(errors.from_domain(err))


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException):
    return _scim_error(errors.ScimError(err.description or err.name, status=err.code or 500))


@bp.errorhandler(Exception)
def _internal(err: Exception):
    log.exception("SCIM request failed")  # details stay in the server log
    return _scim_error(errors.ScimError("Something went wrong on our side.", status=500))
