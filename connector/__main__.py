"""``python -m connector`` runs the CLI (same as the ``connector`` command)."""
from connector.cli import main

main()
