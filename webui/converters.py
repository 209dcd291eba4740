"""URL converters bounded to what the library can store.

Flask's ``<int:...>`` accepts any number of digits; an id past SQLite's 64-bit INTEGER
reaches sqlite3 as an ``OverflowError`` (a 500). Replacing the app's ``int`` converter
once makes every ``<int:...>`` route, including ones added later, answer 404 instead.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from edge_app.search.query import MAX_PHOTO_ID


class SqliteIntConverter(IntegerConverter):
    """``<int:id>`` that matches only ids SQLite can hold (0 .. 2**63-1)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_PHOTO_ID)
        super().__init__(map, *args, **kwargs)
