"""API key schemas: the plaintext key appears only in the answer to its creation."""

from __future__ import annotations

from marshmallow import fields, validate

from app.api.schemas import PageArgsSchema, Schema, page_schema, within
from app.identity import ACTOR, KEY_NAME, MAX_ROLES, ROLE


class ApiKeySchema(Schema):
    id = fields.String(dump_only=True)
    prefix = fields.String(dump_only=True, metadata={"description": "first characters of the key"})
    name = fields.String()
    actor = fields.String()
    roles = fields.List(fields.String())
    tenant = fields.String(dump_only=True)
    created_by = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(dump_only=True, metadata={"description": "the key itself, shown once"})


class ApiKeyCreateSchema(Schema):
    """What an admin chooses; the tenant is always the admin's own."""

    name = fields.String(required=True, validate=within(KEY_NAME))
    actor = fields.String(load_default=None, validate=within(ACTOR))
    roles = fields.List(fields.String(validate=within(ROLE)), required=True,
                        validate=validate.Length(min=1, max=MAX_ROLES))
    expires_at = fields.AwareDateTime(load_default=None, default_timezone=None)


class ApiKeyListArgsSchema(PageArgsSchema):
    actor = fields.String()
    include_revoked = fields.Boolean(load_default=False)


ApiKeyPageSchema = page_schema(ApiKeySchema, "ApiKeyPage")
