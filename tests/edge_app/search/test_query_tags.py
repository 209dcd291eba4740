"""``tag:`` terms in the query grammar: filters, not vectors; clear errors for misuse."""

from __future__ import annotations

import pytest

from edge_app.search.query import QuerySyntaxError, parse_query


@pytest.mark.parametrize(
    ("query", "texts", "tags"),
    [
        ("tag:dog", [], ("dog",)),
        ("beach tag:dog", ["beach"], ("dog",)),
        ("tag:dog beach - sea", ["beach", "sea"], ("dog",)),
        ('tag:"hot dog" + 2:red car', ["red car"], ("hot dog",)),
        ("photo:3 tag:x tag:x +tag:y", [], ("x", "y")),
        ("t-shirt tag:clothes", ["t-shirt"], ("clothes",)),
        ("vintage-tag:old", ["vintage-tag:old"], ()),  # not after whitespace: plain text
    ],
)
def test_tags_are_filters(query: str, texts: list[str], tags: tuple[str, ...]) -> None:
    parsed = parse_query(query)
    assert parsed.texts == texts and parsed.tags == tags
    assert parse_query(str(parsed)).tags == tags  # the canonical form re-parses


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("- tag:dog", "cannot be subtracted", 2),
        ("beach - tag:dog", "cannot be subtracted", 8),
        ("2:tag:dog", "takes no weight", 0),
        ("tag:", "needs a tag name", 0),
        ('tag:""', "needs a tag name", 0),
    ],
)
def test_tag_misuse_is_explained(query: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError, match=message) as err:
        parse_query(query)
    assert err.value.position == position
