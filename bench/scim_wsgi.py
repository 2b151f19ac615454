"""The real app for the SCIM benchmarks (configured from CONNECTOR_* environment variables)."""
from connector import create_app

app = create_app()
