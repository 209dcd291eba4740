"""photo:ID terms are bounded to what SQLite can hold (issue 16: an overflow was a 500)."""

from __future__ import annotations

import pytest

from edge_app.errors import QueryError
from edge_app.search.query import MAX_PHOTO_ID, parse_query


def test_the_largest_sqlite_id_parses() -> None:
    assert parse_query(f"photo:{MAX_PHOTO_ID}").photo_ids == [MAX_PHOTO_ID]


@pytest.mark.parametrize("raw", [str(MAX_PHOTO_ID + 1), "99999999999999999999", "²", "١٢"])
def test_ids_sqlite_cannot_hold_or_non_ascii_digits_are_query_errors(raw: str) -> None:
    with pytest.raises(QueryError, match="photo number"):
        parse_query(f"photo:{raw}")
