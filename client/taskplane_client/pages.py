"""Cursor pagination of the API's lists, as an iterable of items or of whole pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Generic

from taskplane_client.types import Item, Page


def query(filters: dict[str, Any]) -> dict[str, Any]:
    """Query arguments from keyword filters: None left out, times as ISO 8601."""
    return {name: value.isoformat() if isinstance(value, dt.datetime) else value
            for name, value in filters.items() if value is not None}


class Pages(Generic[Item]):
    """Every item of a list endpoint, fetched one page at a time as it is consumed.

    Iterating gives the items across all pages; `pages()` gives the pages themselves
    (`{"items": [...], "next_cursor": ...}`), for callers that keep the cursor. Each
    iteration starts again from the first page.
    """

    def __init__(self, fetch: Callable[[dict[str, Any]], Page[Item]], params: dict[str, Any]):
        self._fetch = fetch
        self._params = params

    def pages(self, cursor: str | None = None) -> Iterator[Page[Item]]:
        """Each page in turn, from `cursor` (or the first), until one has no next cursor."""
        params = dict(self._params)
        if cursor:
            params["cursor"] = cursor
        while True:
            page = self._fetch(params)
            yield page
            if not page["next_cursor"]:
                return
            params["cursor"] = page["next_cursor"]

    def __iter__(self) -> Iterator[Item]:
        for page in self.pages():
            yield from page["items"]
