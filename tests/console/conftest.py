from __future__ import annotations

import pytest


@pytest.fixture
def app(app):
    # The console's forms are CSRF protected: tests post the real token, as a browser does.
    app.config["WTF_CSRF_ENABLED"] = True
    return app


from tests.console.browser import browser, live, page  # noqa: F401 - browser fixtures
