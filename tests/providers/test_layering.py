"""Providers speak protocol, not storage: they never import the pipeline, models or database."""
from __future__ import annotations

import ast
import pathlib

import providers

FORBIDDEN = ("connector.pipeline", "connector.models", "connector.db", "connector.orgs")


def test_providers_never_import_storage_or_the_pipeline():
    offenders = []
    for path in pathlib.Path(providers.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []
