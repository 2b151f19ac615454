"""connector: who belongs to which organization, with which role, whichever way they arrive."""
from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from flask import Flask, jsonify, request

from . import config as config_mod
from . import db
from .errors import ConnectorError

__version__ = "0.1.0"


def create_app(test_config: dict[str, Any] | None = None,
               instance_path: str | None = None) -> Flask:
    """The app factory: config -> resources -> blueprints -> error handlers."""
    instance_path = instance_path or os.environ.get("CONNECTOR_INSTANCE_PATH") or \
        os.path.join(os.getcwd(), "instance")
    app = Flask(__name__, instance_path=os.path.abspath(instance_path),
                instance_relative_config=True)
    conf = config_mod.load(app.instance_path, test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    conf["SECRET_KEY"] = conf.get("SECRET_KEY") or _instance_secret(app.instance_path)
    app.config.update(conf)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=bool(conf.get("BASE_URL", "").startswith("https")),
                      JSON_SORT_KEYS=False)
    logging.basicConfig(level=conf.get("LOG_LEVEL", "INFO"))
    logging.getLogger("alembic").setLevel(logging.WARNING)

    db.init_app(app)
    from . import limits
    limits.init_app(app)
    from flask_wtf.csrf import CSRFProtect
    csrf = CSRFProtect(app)
    app.extensions["connector.csrf"] = csrf

    from . import api, health, pages
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer-token API: no cookies, no CSRF
    app.register_blueprint(pages.bp)
    # Feature blueprints, registered explicitly (one line each).
    from .invites import views as invites_views; app.register_blueprint(invites_views.bp)  # noqa: E702
    from .outbox import worker as _outbox  # noqa: F401  (registers the outbox loop in background.LOOPS)
    from scim import blueprint as scim_bp; app.register_blueprint(scim_bp.bp); csrf.exempt(scim_bp.bp)  # noqa: E702
    from .sso import views as sso_views; app.register_blueprint(sso_views.bp); csrf.exempt(sso_views.saml_acs)  # noqa: E702,E501
    from . import jobs  # noqa: F401  (registers the job loop in background.LOOPS)
    from .console import bp as console_bp; app.register_blueprint(console_bp)  # noqa: E702
    from .ldap import scheduler as _ldap_scheduler  # noqa: F401  (registers the LDAP sync loop)
    from .ldap import signin as ldap_signin; app.register_blueprint(ldap_signin.bp)  # noqa: E702
    _register_errors(app)
    return app


def _instance_secret(instance_path: str) -> str:
    """The embedded default keeps a generated secret in the instance folder (mode 0600)."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip()


def _register_errors(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith(("/api/", "/scim/")) or request.accept_mimetypes.best == \
            "application/json"

    @app.errorhandler(ConnectorError)
    def _domain(err: ConnectorError):
        if wants_json():
            return jsonify({"error": {"code": err.code, "message": err.message}}), err.status
        from flask import render_template_string
        return render_template_string(_ERROR_PAGE, message=err.message), err.status

    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(413)
    def _http(err):
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}[err.code]
        if wants_json():
            return jsonify({"error": {"code": code, "message": err.description}}), err.code
        from flask import render_template_string
        return render_template_string(_ERROR_PAGE, message=err.description), err.code

    @app.errorhandler(500)
    def _internal(err):
        # Never a traceback or internal detail in a response body.
        if wants_json():
            return jsonify({"error": {"code": "internal_error",
                                      "message": "Something went wrong on our side."}}), 500
        return "Something went wrong on our side.", 500


_ERROR_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>connector</title>
<main style="font-family:system-ui;max-width:40rem;margin:3rem auto;padding:0 1rem">
<h1>Sorry</h1><p>{{ message }}</p><p><a href="/">Back to the start</a></p></main></html>"""
