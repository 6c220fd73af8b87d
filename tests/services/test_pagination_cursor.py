"""Pagination cursors: opaque, URL-safe, round-trip their sort key; a bad one is a 422."""

from __future__ import annotations

import base64
import datetime as dt
import string

import pytest

from app.errors import ValidationFailed
from app.services.pagination import decode_cursor, encode_cursor

URL_SAFE = set(string.ascii_letters + string.digits + "-_")

WHEN = dt.datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=dt.UTC)


def test_cursor_round_trips_a_time_and_id_key():
    cursor = encode_cursor((WHEN, "0b5c6a1e-job"))

    assert decode_cursor(cursor, (dt.datetime, str)) == (WHEN, "0b5c6a1e-job")


def test_cursor_round_trips_an_integer_key():
    assert decode_cursor(encode_cursor((42,)), (int,)) == (42,)


def test_cursor_is_url_safe_without_padding():
    for key in ((WHEN, "x"), (1,), (WHEN, "?&/+=" * 7)):
        cursor = encode_cursor(key)
        assert "=" not in cursor
        assert set(cursor) <= URL_SAFE


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not a cursor!",                    # not base64
    _b64(b"\xff\xfe"),                  # not UTF-8 JSON
    _b64(b"{not json"),                 # not JSON
    _b64(b'["2026-03-01T12:30:45"]'),   # too few values
    _b64(b'["yesterday", "x"]'),        # not a time
    _b64(b'["2026-03-01T12:30:45", "x"]'),  # a time without a timezone
    _b64(b"42"),                        # not a list
    "",                                 # empty
], ids=["not-base64", "not-utf8", "not-json", "too-short", "bad-time", "naive-time", "not-a-list",
     "empty"])
def test_bad_cursor_is_a_validation_error(cursor):
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(cursor, (dt.datetime, str))

    assert caught.value.status == 422
    assert caught.value.details == {"cursor": ["invalid cursor"]}


def test_non_numeric_integer_key_is_a_validation_error():
    with pytest.raises(ValidationFailed):
        decode_cursor(_b64(b'["seven"]'), (int,))
