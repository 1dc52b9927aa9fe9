"""The dashboard's page and assets under /_openovc/ui, and GET /_openovc/session that it reads the role from."""

from __future__ import annotations

from pathlib import Path

from tests.support.errors import error_body
from tests.support.inprocess import ADMIN, READER, Env

STATIC = Path(__file__).parents[2] / "src" / "openovc" / "dashboard" / "static"


def test_the_page_answers_with_and_without_the_trailing_slash(env: Env) -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    for path in ("/_openovc/ui", "/_openovc/ui/", "/_openovc/ui/index.html"):
        resp = env.client.get(path, follow_redirects=False)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"] == "text/html; charset=utf-8"
        assert resp.text == page


def test_the_page_names_only_assets_that_are_served(env: Env) -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert 'src="/_openovc/ui/js/main.js"' in page
    assert 'href="/_openovc/ui/dashboard.css"' in page
    assert "http://" not in page and "https://" not in page  # works offline: nothing from the internet
    for asset in ("/_openovc/ui/js/main.js", "/_openovc/ui/dashboard.css"):
        resp = env.client.get(asset)
        assert resp.status_code == 200, asset
        assert resp.content == (STATIC / asset.removeprefix("/_openovc/ui/")).read_bytes()
    assert env.client.get("/_openovc/ui/js/main.js").headers["content-type"].split(";")[0] in (
        "text/javascript",
        "application/javascript",
    )


def test_no_script_reaches_outside_the_server() -> None:
    for script in STATIC.rglob("*.js"):
        # The SVG namespace is a name that is never fetched.
        text = script.read_text(encoding="utf-8").replace('"http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text, script


def test_an_unknown_asset_is_hpe_s_404(env: Env) -> None:
    resp = env.client.get("/_openovc/ui/js/nope.js")
    assert (resp.status_code, resp.json()) == (
        404,
        error_body(
            "/_openovc/ui/js/nope.js",
            "org.springframework.web.servlet.NoHandlerFoundException",
            "No handler found for GET /_openovc/ui/js/nope.js",
            404,
        ),
    )


def test_the_session_names_the_user_and_role(env: Env) -> None:
    for user, role in ((ADMIN, "administrator"), (READER, "read_only")):
        resp = env.client.get("/_openovc/session", headers=env.headers(user))
        assert (resp.status_code, resp.json()) == (200, {"username": user[0], "role": role})


def test_the_session_needs_a_valid_token(env: Env) -> None:
    resp = env.client.get("/_openovc/session")
    assert (resp.status_code, resp.json()) == (
        401,
        {
            "error": "unauthorized",
            "error_description": "Full authentication is required to access this resource",
        },
    )
    resp = env.client.get("/_openovc/session", headers={"Authorization": "Bearer nope"})
    assert (resp.status_code, resp.json()) == (
        401,
        {"error": "invalid_token", "error_description": "Invalid access token: nope"},
    )
