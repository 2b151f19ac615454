"""Configuration: defaults < instance file < CONNECTOR_* environment < test config."""
from __future__ import annotations

import json
import os
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Storage: empty means the embedded default, a SQLite file in the instance folder.
    "DATABASE_URL": "",
    "REDIS_URL": "",
    # Mail: empty means .eml files in the instance folder's outbox directory.
    "SMTP_URL": "",
    "MAIL_FROM": "connector@localhost",
    # Outbox (issue 5): rows per batch, lease of a claimed row, retry backoff base, attempts.
    "OUTBOX_BATCH_SIZE": 100,
    "OUTBOX_LEASE_SECONDS": 300,
    "OUTBOX_BACKOFF_SECONDS": 30,
    "OUTBOX_MAX_ATTEMPTS": 8,
    "OUTBOX_COMMIT_EVERY": 10,
    "OUTBOX_POLL_SECONDS": 2,
    "SMTP_TIMEOUT_SECONDS": 15,
    "WEBHOOK_TIMEOUT_SECONDS": 10,
    # Let webhooks reach loopback/private addresses (a receiver on this machine or network).
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False,
    # Invites (issue 5): expiries, Reply-To the inviter, code attempt limits and lockout.
    "INVITATION_EXPIRY_DAYS": 7,
    "INVITE_CODE_EXPIRY_DAYS": 30,
    "INVITE_REPLY_TO_INVITER": True,
    "INVITE_CODE_RATE_LIMIT": "10/minute;60/hour",
    "INVITE_CODE_ACCOUNT_RATE_LIMIT": "20/hour",
    "INVITE_CODE_LOCKOUT_FAILURES": 10,
    "INVITE_CODE_LOCKOUT_MINUTES": 15,
    "SECRET_KEY": "",
    # Public base URL used in links (emails, SP metadata, redirect URIs); empty = request host.
    "BASE_URL": "",
    # ThinkLink's rule: a user may administer (owner/admin) at most one organization.
    "ONE_ADMIN_ORG_PER_USER": False,
    # Run background jobs in the web process (the embedded default does).
    "JOBS_IN_PROCESS": True,
    # Jobs (issue 6): a running job without a heartbeat this long is resumed by another worker.
    "JOB_STALE_SECONDS": 60,
    "IMPORT_MAX_ROWS": 200_000,
    "IMPORT_MAX_BYTES": 50 * 1024 * 1024,
    "IMPORT_BATCH_SIZE": 10000,
    "GENERATE_BATCH_SIZE": 100,
    "RATELIMIT_ENABLED": True,
    "LOG_LEVEL": "INFO",
    "SCIM_MAX_RESULTS": 1000,  # SCIM filter maxResults: the largest page /Users and /Groups return
    "SCIM_BULK_MAX_OPERATIONS": 1000,  # SCIM /Bulk maxOperations
    "SCIM_BULK_MAX_PAYLOAD": 1048576,  # SCIM /Bulk maxPayloadSize in bytes
    # SSO: allowed clock skew (seconds) for ID tokens and SAML conditions; IdP fetch limits.
    "SSO_CLOCK_SKEW": 60,
    "SSO_FETCH_TIMEOUT": 5,
    "SSO_METADATA_MAX_BYTES": 1000000,
    # Domain verification: DNS servers to ask (comma-separated; empty = the system's) and port.
    "DNS_NAMESERVERS": "",
    "DNS_PORT": 53,
    # LDAP sync: a run deactivating more than this percent of active members asks to confirm.
    "LDAP_MAX_DEACTIVATE_PERCENT": 10,
    # LDAP sync: scheduled runs are incremental, with a full run at least this often.
    "LDAP_FULL_SYNC_HOURS": 24,
    "LDAP_SCHEDULER_SECONDS": 30,
}

# Values that arrive as strings from the environment and must become other types.
_BOOLS = {"ONE_ADMIN_ORG_PER_USER", "JOBS_IN_PROCESS", "RATELIMIT_ENABLED", "INVITE_REPLY_TO_INVITER",
          "WEBHOOK_ALLOW_PRIVATE_NETWORKS"}


def _coerce(key: str, value: str) -> Any:
    if key in _BOOLS:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key in DEFAULTS and isinstance(DEFAULTS[key], int) and not isinstance(DEFAULTS[key], bool):
        return int(value)
    return value


def load(instance_path: str, test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration mapping in precedence order."""
    config: dict[str, Any] = dict(DEFAULTS)
    instance_file = os.path.join(instance_path, "connector.json")
    if os.path.exists(instance_file):
        with open(instance_file, encoding="utf-8") as fh:
            config.update(json.load(fh))
    for key in list(DEFAULTS) + [k[len("CONNECTOR_"):] for k in os.environ if k.startswith("CONNECTOR_")]:
        env = os.environ.get("CONNECTOR_" + key)
        if env is not None and not key.startswith("TEST_"):
            config[key] = _coerce(key, env)
    if test_config:
        config.update(test_config)
    return config
