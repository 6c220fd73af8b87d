"""`/docs` works without internet: every asset its page loads is served by the app itself.

Against gunicorn as the Procfile runs it, with no credentials: the page, each stylesheet
and script it references, and the OpenAPI document it renders; where chromium is
installed, the page rendered by it with every host name but 127.0.0.1 unresolvable.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

VENDORED = Path(__file__).resolve().parents[2] / "app" / "static" / "swagger-ui"
CONTENT_TYPES = {".js": {"text/javascript", "application/javascript"}, ".css": {"text/css"}}
IDENTITY = {"X-Actor": "ann", "X-Roles": "viewer", "X-Tenant": "t-docs"}


class References(HTMLParser):
    """The URLs a page loads: script `src` and link `href`."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def fetch(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """GET `path` from 127.0.0.1:`port`; (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def docs_page(web) -> tuple[str, str]:
    """The text of `/docs` fetched without credentials, and its URL."""
    status, headers, body = fetch(web.port, "/docs")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    return body.decode(), f"{web.url}/docs"


def test_docs_page_references_no_outside_url(docs_page):
    page, _ = docs_page

    assert not re.findall(r"https?://", page)
    parser = References()
    parser.feed(page)
    assert parser.urls  # the page loads its assets from somewhere: here, the app


def test_every_asset_of_docs_is_served_by_the_app_as_vendored(web, docs_page):
    page, page_url = docs_page
    parser = References()
    parser.feed(page)
    assets = {urljoin(page_url, url) for url in parser.urls}
    assert {Path(urlsplit(url).path).name for url in assets} == {
        "swagger-ui.css", "swagger-ui-standalone-preset.js", "swagger-ui-bundle.js"}

    for url in assets:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("http", f"127.0.0.1:{web.port}"), url
        status, headers, body = fetch(web.port, parts.path)
        name = Path(parts.path).name

        assert status == 200, url
        assert headers["Content-Type"].split(";")[0] in CONTENT_TYPES[Path(name).suffix], url
        assert body and body == (VENDORED / name).read_bytes(), url
        assert "X-RateLimit-Limit" not in headers, url  # outside the rate limits, like /docs


def test_the_stylesheet_needs_nothing_more_and_the_spec_is_served(web, docs_page):
    page, _ = docs_page
    css = (VENDORED / "swagger-ui.css").read_text()
    images = re.findall(r"url\(\s*['\"]?([^'\")]*)", css)
    assert images and all(image.startswith("data:") for image in images)

    [spec_url] = re.findall(r'url: "([^"]+)"', page)
    status, headers, body = fetch(web.port, spec_url)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert "/jobs" in json.loads(body)["paths"]


def test_a_limited_route_carries_the_rate_limit_headers_the_assets_lack(web):
    status, headers, _ = fetch(web.port, "/job-types", IDENTITY)

    assert status == 200
    assert "X-RateLimit-Limit" in headers


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_chromium_renders_every_operation_with_no_host_but_the_app(web, tmp_path):
    status, _, body = fetch(web.port, "/openapi.json")
    assert status == 200
    paths = set(json.loads(body)["paths"])

    rendered = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'chromium'}",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--virtual-time-budget=30000", "--dump-dom", f"{web.url}/docs"],
        capture_output=True, text=True, timeout=180, check=True).stdout

    assert "Failed to load API definition" not in rendered
    assert set(re.findall(r'data-path="([^"]+)"', rendered)) == paths
