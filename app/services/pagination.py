"""Keyset (cursor) pagination: the cost of a page does not grow with the table."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json

from sqlalchemy import Select, tuple_

from app.errors import ValidationFailed


@dataclasses.dataclass
class Page:
    """One page of rows and the cursor of the next one (None at the end)."""

    items: list
    next_cursor: str | None


def encode_cursor(values: tuple) -> str:
    """An opaque cursor for the sort key `values`."""
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _load(value, kind: type):
    if kind is not dt.datetime:
        return kind(value)
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("cursor time without a timezone")
    return moment


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> tuple:
    """The sort key inside `cursor`; a malformed cursor is a validation error."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if len(raw) != len(kinds):
            raise ValueError("wrong length")
        return tuple(_load(value, kind) for value, kind in zip(raw, kinds, strict=True))
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("invalid cursor", details={"cursor": ["invalid cursor"]}) from exc


def narrow(stmt: Select, model, filters: dict, equal=(), time_column=None,
           since: str = "since", until: str = "until") -> Select:
    """`stmt` with the filters given: equality on the `equal` columns of `model`, and
    `[filters[since], filters[until])` on `time_column`; empty filters are ignored."""
    for name in equal:
        if filters.get(name):
            stmt = stmt.where(getattr(model, name) == filters[name])
    if time_column is not None and filters.get(since):
        stmt = stmt.where(time_column >= filters[since])
    if time_column is not None and filters.get(until):
        stmt = stmt.where(time_column < filters[until])
    return stmt


def paginate(session, stmt: Select, columns: tuple, cursor: str | None, limit: int) -> Page:
    """Newest first by `columns` (descending), `limit` rows after `cursor`."""
    if cursor:
        kinds = tuple(col.type.python_type for col in columns)
        stmt = stmt.where(tuple_(*columns) < tuple_(*decode_cursor(cursor, kinds)))
    stmt = stmt.order_by(*(col.desc() for col in columns)).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(tuple(getattr(last, col.key) for col in columns))
    return Page(items=rows, next_cursor=next_cursor)
