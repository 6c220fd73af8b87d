"""`/api-keys`: create (the key is shown once), list and revoke the tenant's API keys."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.api.api_keys.schemas import (
    ApiKeyCreatedSchema,
    ApiKeyCreateSchema,
    ApiKeyListArgsSchema,
    ApiKeyPageSchema,
    ApiKeySchema,
)
from app.api.context import current_principal
from app.api.schemas import fetch_page
from app.auth import Permission, requires
from app.services import api_keys

blp = Blueprint("api_keys", __name__, url_prefix="/api-keys",
                description="API keys (admin): `Authorization: Bearer tp_...`.")
KEY_FIELDS = tuple(ApiKeySchema().fields)


@blp.route("")
class ApiKeys(MethodView):
    @requires(Permission.ADMINISTER)
    @blp.page(ApiKeyListArgsSchema, ApiKeyPageSchema)
    def get(self, args):
        """The tenant's keys, newest first (never the keys themselves)."""
        return fetch_page(args, api_keys.list_keys)

    @requires(Permission.ADMINISTER)
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeyCreatedSchema)
    def post(self, body):
        """Create a key for an actor of this tenant; the answer holds the key, shown once."""
        key, token = api_keys.create(current_principal(), **body)
        return {**{name: getattr(key, name) for name in KEY_FIELDS}, "key": token}


@blp.route("/<key_id>")
class ApiKey(MethodView):
    @requires(Permission.ADMINISTER)
    @blp.response(204)
    def delete(self, key_id):
        """Revoke the key: its next request is refused."""
        api_keys.revoke(key_id)
