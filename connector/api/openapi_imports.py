"""OpenAPI entries of the import, generated-account and job routes (issue 6)."""
from __future__ import annotations

from typing import Any

_A = {"name": "account", "in": "path", "required": True, "schema": {"type": "string"}}
_J = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_U = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_FMT = [{"name": "format", "in": "query", "required": False,
         "schema": {"type": "string", "enum": ["pdf", "csv"]}}]

ROUTES = [
    ("/organizations/{account}/imports/template", "get", "The CSV import template (text/csv)",
     "imports.run", [_A], [], None, 200, None),
    ("/organizations/{account}/imports", "post",
     "Upload a CSV/XLSX as multipart field 'file' (form fields dry_run=true|false, "
     "passwords=none|generate, passphrases, must_change); starts a job (202)",
     "imports.run", [_A], [], "ImportUpload", 202, "Job"),
    ("/organizations/{account}/jobs/{job_id}", "get",
     "A job's status, rows done/total, rate, counts and first errors", "imports.run",
     [_A, _J], [], None, 200, "Job"),
    ("/organizations/{account}/imports/{job_id}/commit", "post",
     "Commit the file a finished dry run checked; starts a job (202)", "imports.run",
     [_A, _J], [], None, 202, "Job"),
    ("/organizations/{account}/imports/{job_id}/report", "get",
     "Per-row report CSV (generated passwords in the first download only)", "imports.run",
     [_A, _J], [], None, 200, None),
    ("/organizations/{account}/accounts/generate", "post",
     "Generate accounts with no email; starts a job (202)", "imports.run", [_A], [],
     "GenerateAccounts", 202, "Job"),
    ("/organizations/{account}/accounts/generate/{job_id}/sheet", "get",
     "The credential sheet (PDF or CSV): once, to the caller that generated the batch",
     "imports.run", [_A, _J], _FMT, None, 200, None),
    ("/organizations/{account}/members/{user_id}/reset-password", "post",
     "Give a member a new generated password (shown once; must change at sign-in)",
     "members.manage", [_A, _U], [], None, 200, "PasswordReset"),
]

_s, _i, _b = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
SCHEMAS: dict[str, Any] = {
    "Job": {"type": "object", "properties": {
        "id": _i, "kind": _s, "status": {"type": "string",
                                         "enum": ["queued", "running", "done", "failed"]},
        "dry_run": _b, "rows_done": _i, "rows_total": {"type": "integer", "nullable": True},
        "rate": {"type": "number", "nullable": True}, "result": {"type": "object"},
        "error": {"type": "string", "nullable": True},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "line": _i, "column": _s, "reason": _s, "message": _s}}}}},
    "ImportUpload": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}, "dry_run": _b,
        "passwords": {"type": "string", "enum": ["none", "generate"]}, "passphrases": _b,
        "must_change": _b}},
    "GenerateAccounts": {"type": "object", "required": ["count"], "properties": {
        "count": _i, "prefix": _s, "role": _s, "group": _s, "sub_organization": _s,
        "passphrases": _b, "must_change": _b}},
    "PasswordReset": {"type": "object", "properties": {
        "user_id": _i, "username": _s, "password": _s, "must_change_password": _b}},
}
