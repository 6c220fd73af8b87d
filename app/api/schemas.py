"""Schemas every resource shares: the base schema, the error envelope, pagination."""

from __future__ import annotations

from collections.abc import Callable

import marshmallow as ma
from marshmallow import fields, validate

from app.identity import Bound
from app.services.pagination import Page
from config.settings import Settings

_PAGE = Settings()
# What the database holds: an `Integer` column is signed 32-bit on PostgreSQL (64 on
# SQLite), the default bound of an integer; a field stored in a `BigInteger` column
# (bytes) names `INT64` itself.
INT32 = validate.Range(min=-(2**31), max=2**31 - 1)
INT64 = validate.Range(min=-(2**63), max=2**63 - 1)
# A field that names no tighter bound gets these; the widest String(n) column is 512.
STRING_MAX = 512
LIST_MAX = 100
BOUNDED_BY = "x-bounded-by"
# A name a caller chooses that ends up in paths and labels: a project.
NAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
                       error="letters, digits, '.', '_' and '-'; at most 128")


# Raw bytes in the OpenAPI document: a string of format `binary`, which generated clients
# read and send as a file.
BINARY = {"type": "string", "format": "binary"}
OCTET_STREAM = "application/octet-stream"


def binary_body(description: str, *media_types: str) -> dict:
    """An OpenAPI request or response body of raw bytes: `application/octet-stream` first."""
    return {"description": description,
            "content": {kind: {"schema": BINARY} for kind in (OCTET_STREAM, *media_types)}}


class Within(validate.Regexp):
    """A field held to an identity bound (`app.identity`): refused whole, never cut.

    A `Regexp`, so the OpenAPI document shows the bound's pattern; the check itself is
    the bound's own.
    """

    def __init__(self, bound: Bound):
        super().__init__(f"^(?:{bound.pattern.pattern})$", error=bound.charset)
        self.bound = bound

    def __call__(self, value):
        problem = self.bound.problem(value)
        if problem is not None:
            raise ma.ValidationError(problem)
        return value


def within(bound: Bound) -> list[validate.Validator]:
    """The validators of a field holding `bound`'s values: its length and its characters."""
    return [validate.Length(min=1, max=bound.max_length), Within(bound)]


def _has_bound(field: fields.Field, kind: type) -> bool:
    return any(isinstance(v, kind) and v.max is not None or isinstance(v, validate.OneOf)
               for v in field.validators)


def bound(field: fields.Field) -> None:
    """Give `field` (and the fields inside it) the default bound of its kind, unless it has one.

    A field bounded otherwise says so in its metadata, `x-bounded-by` (the body limit).
    """
    if BOUNDED_BY in field.metadata:
        return
    if isinstance(field, fields.Integer) and not _has_bound(field, validate.Range):
        field.validators.append(INT32)
    elif isinstance(field, fields.String) and not _has_bound(field, validate.Length):
        field.validators.append(validate.Length(max=STRING_MAX))
    elif isinstance(field, fields.List):
        if not _has_bound(field, validate.Length):
            field.validators.append(validate.Length(max=LIST_MAX))
        bound(field.inner)
    elif isinstance(field, fields.Dict):
        for inner in (field.key_field, field.value_field):
            if inner is not None:
                bound(inner)
    elif isinstance(field, fields.Nested):
        bound_schema(field.schema)


def bound_schema(schema: ma.Schema) -> ma.Schema:
    """Bound every field of a request schema instance (in place) and return it.

    Request schemas pass here once, when a view declares them (`Blueprint.arguments`),
    so a field declared without a bound still holds only what the database can, and the
    OpenAPI document shows the bound. Response schemas are left alone: lists of 500
    items and long signed URLs are what they are meant to show.
    """
    for field in schema.fields.values():
        bound(field)
    return schema


class Schema(ma.Schema):
    """Base schema: unknown fields are refused."""

    class Meta:
        unknown = ma.RAISE


class Derived:
    """A field whose value is `derive(obj)` instead of an attribute of the object dumped.

    Mixed into the field class it serializes as, so the OpenAPI document shows the value's
    real type (`fields.Method` and `fields.Function` show none): `class DerivedList(Derived,
    fields.List)`, then `DerivedList(fields.Nested(X), derive=lambda obj: ...)`.
    """

    def __init__(self, *args, derive: Callable[[object], object], **kwargs):
        super().__init__(*args, **kwargs)
        self.derive = derive

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        """The value to dump: `derive(obj)`."""
        return self.derive(obj)


class DerivedList(Derived, fields.List):
    """A list derived from the object dumped."""


class DerivedNested(Derived, fields.Nested):
    """A nested object derived from the object dumped (often the object itself)."""


class DerivedDict(Derived, fields.Dict):
    """A mapping derived from the object dumped."""


class DerivedBoolean(Derived, fields.Boolean):
    """A flag derived from the object dumped."""


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "snake_case error code"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)
    request_id = fields.String(required=True, metadata={"description": "as `X-Request-ID`"})


class ErrorEnvelopeSchema(Schema):
    """The body of every error response."""

    error = fields.Nested(ErrorSchema, required=True)


class PageArgsSchema(Schema):
    """`?limit=` and `?cursor=` of every list."""

    limit = fields.Integer(load_default=_PAGE.page_size_default,
                           validate=validate.Range(min=1, max=_PAGE.page_size_max))
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


PAGE_ARGS = ("cursor", "limit")


def fetch_page(args: dict, fetch: Callable[..., Page], *leading) -> Page:
    """The page a list view answers: `fetch(*leading, filters=, cursor=, limit=)`.

    `args` is the view's parsed query (`PageArgsSchema` and its filters); the filters are
    everything but `cursor` and `limit`. The page is dumped by the view's `page_schema`.
    """
    filters = {name: value for name, value in args.items() if name not in PAGE_ARGS}
    return fetch(*leading, filters=filters, cursor=args["cursor"], limit=args["limit"])


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A list-body schema `{items: [...], next_cursor}` for `item_schema`."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema)),
         "next_cursor": fields.String(allow_none=True)},
        name=name,
    )
