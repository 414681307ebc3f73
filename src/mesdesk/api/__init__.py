"""The HTTP API (FastAPI): the seeds' endpoints, the dashboard, OpenAPI at /docs."""

from mesdesk.api.app import create_app, serve_app

__all__ = ["create_app", "serve_app"]
