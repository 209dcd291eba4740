"""``person:NAME`` in the search grammar: a filter like ``tag:``, combinable with terms."""

from __future__ import annotations

import pytest

from edge_app.search.query import QuerySyntaxError, parse_query


@pytest.mark.parametrize(
    ("query", "people", "texts", "tags"),
    [
        ('person:"Ana" beach', ("Ana",), ["beach"], ()),
        ("beach person:Ana", ("Ana",), ["beach"], ()),
        ('person:"Ana  Lima"', ("Ana Lima",), [], ()),
        ("PERSON:Ana tag:dog + sunset", ("Ana",), ["sunset"], ("dog",)),
        ("person:Ana person:Bo person:Ana", ("Ana", "Bo"), [], ()),
        ("person-x beach", (), ["person-x beach"], ()),  # no colon: plain text
    ],
)
def test_person_filters_parse(
    query: str, people: tuple[str, ...], texts: list[str], tags: tuple[str, ...]
) -> None:
    parsed = parse_query(query)
    assert parsed.people == people and parsed.texts == texts and parsed.tags == tags
    assert parse_query(str(parsed)).people == people  # the canonical form re-parses


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("beach - person:Ana", "person: is a filter and cannot be subtracted"),
        ("2:person:Ana", "person: is a filter and takes no weight"),
        ("person:", "person: needs a name"),
        ('person:""', "person: needs a name"),
    ],
)
def test_person_misuse_is_explained(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(query)
