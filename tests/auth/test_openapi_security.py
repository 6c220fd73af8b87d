"""/openapi.json describes the enabled auth modes, so /docs can send credentials."""

from __future__ import annotations


def test_the_enabled_modes_are_the_documented_security(app_factory):
    app = app_factory(auth_modes=("headers", "apikey"))

    spec = app.test_client().get("/openapi.json").get_json()

    assert spec["security"] == [{"X-Actor": [], "X-Roles": [], "X-Tenant": []},
                                {"bearerApiKey": []}]
    assert set(spec["components"]["securitySchemes"]) == {"X-Actor", "X-Roles", "X-Tenant",
                                                          "bearerApiKey"}
    assert spec["components"]["securitySchemes"]["bearerApiKey"]["scheme"] == "bearer"
