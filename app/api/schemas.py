"""Schemas every resource shares: the base schema, the error envelope, pagination."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from config.settings import Settings

_PAGE = Settings()


class Schema(ma.Schema):
    """Base schema: unknown fields are refused."""

    class Meta:
        unknown = ma.RAISE


class ErrorSchema(Schema):
    code = fields.String(metadata={"description": "snake_case error code"})
    message = fields.String()
    details = fields.Dict()
    request_id = fields.String()


class ErrorEnvelopeSchema(Schema):
    """The body of every error response."""

    error = fields.Nested(ErrorSchema)


class PageArgsSchema(Schema):
    """`?limit=` and `?cursor=` of every list."""

    limit = fields.Integer(load_default=_PAGE.page_size_default,
                           validate=validate.Range(min=1, max=_PAGE.page_size_max))
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A list-body schema `{items: [...], next_cursor}` for `item_schema`."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema)),
         "next_cursor": fields.String(allow_none=True)},
        name=name,
    )
