"""Every list view answers its page through `fetch_page`: filters, `limit` and `cursor`."""

from __future__ import annotations

import pytest

from app.api.schemas import fetch_page

LISTS = {"/jobs": {"project": "paged"}, "/artifacts": {"project": "paged"},
         "/audit": {"outcome": "allowed"}, "/events": {"type": "service_artifact_created"},
         "/api-keys": {"actor": "ada"}}


def test_fetch_page_passes_the_filters_apart_from_cursor_and_limit():
    calls = []

    def fetch(*leading, filters, cursor, limit):
        calls.append((leading, filters, cursor, limit))
        return "page"

    args = {"cursor": "abc", "limit": 7, "status": "failed", "project": "web"}
    assert fetch_page(args, fetch, "acme") == "page"
    assert calls == [(("acme",), {"status": "failed", "project": "web"}, "abc", 7)]
    assert args == {"cursor": "abc", "limit": 7, "status": "failed", "project": "web"}


@pytest.fixture
def admin(caller):
    """An admin of this test's tenant who made two of everything the lists show."""
    ada = caller("admin", actor="ada")
    for n in range(2):
        assert ada.submit("echo", {"message": f"m{n}"}, project="paged").status_code == 202
        assert ada.post("/artifacts", json={"name": f"a{n}", "type": "doc",
                                            "project": "paged"}).status_code == 201
        assert ada.post("/api-keys", json={"name": f"k{n}", "roles": ["viewer"]}).status_code == 201
    return ada


@pytest.mark.parametrize("path", list(LISTS))
def test_each_list_pages_with_its_filters_and_cursor(admin, path):
    every = admin.get(path, query_string=LISTS[path]).get_json()
    assert len(every["items"]) >= 2 and every["next_cursor"] is None
    first = admin.get(path, query_string={**LISTS[path], "limit": 1}).get_json()
    assert first["items"] == every["items"][:1] and first["next_cursor"]
    second = admin.get(path, query_string={**LISTS[path], "limit": 1,
                                           "cursor": first["next_cursor"]}).get_json()
    assert second["items"] == every["items"][1:2]
    for name, value in LISTS[path].items():
        assert all(item[name] == value for item in every["items"]), (path, name)


def test_each_list_is_documented_with_its_filters_cursor_limit_and_page(app):
    spec = app.test_client().get("/openapi.json").get_json()
    for path, filters in {**LISTS, "/ops/slow-requests": {}}.items():
        operation = spec["paths"][path]["get"]
        assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} >= {
            "limit", "cursor", *filters}, path
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert page.endswith("Page"), path
        assert set(spec["components"]["schemas"][page.rsplit("/", 1)[1]]["properties"]) == {
            "items", "next_cursor"}, path
