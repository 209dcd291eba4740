"""Query grammar: terms, weights, operators, and errors with positions."""

from __future__ import annotations

import pytest

from edge_app.errors import QueryError
from edge_app.search.query import QuerySyntaxError, parse_query


def _terms(q: str) -> list[tuple[float, str | None, int | None]]:
    return [(t.weight, t.text, t.photo_id) for t in parse_query(q).terms]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("red car on a beach", [(1.0, "red car on a beach", None)]),
        ('"beach" - "people"', [(1.0, "beach", None), (-1.0, "people", None)]),
        ("2:dog + photo:123", [(2.0, "dog", None), (1.0, None, 123)]),
        ('0.5:"red car"', [(0.5, "red car", None)]),
        ("t-shirt -people", [(1.0, "t-shirt", None), (-1.0, "people", None)]),
        (
            "black-and-white   photo +sunset",
            [(1.0, "black-and-white photo", None), (1.0, "sunset", None)],
        ),
        ("-night", [(-1.0, "night", None)]),
        ("PHOTO:7 - 0.25:photo:8", [(1.0, None, 7), (-0.25, None, 8)]),
        ('"12:30 sunset"', [(1.0, "12:30 sunset", None)]),
    ],
)
def test_valid_queries(query: str, expected: list[tuple[float, str | None, int | None]]) -> None:
    assert _terms(query) == expected


def test_canonical_form_reparses_to_the_same_terms() -> None:
    parsed = parse_query('2:dog - "red car" + photo:5')
    assert str(parsed) == '2:"dog" - 1:"red car" + 1:photo:5'
    assert _terms(str(parsed)) == _terms('2:dog - "red car" + photo:5')
    assert parsed.texts == ["dog", "red car"] and parsed.photo_ids == [5]


@pytest.mark.parametrize(
    ("query", "position", "needle"),
    [
        ("", 0, "empty"),
        ("   ", 3, "empty"),
        ('"beach', 0, "unterminated quote"),
        ("beach +", 6, "after '+'"),
        ('a "b"', 2, "quote inside plain text"),
        ('"beach" people', 8, "'+' or '-' between terms"),
        ("photo:x", 6, "photo number"),
        ("photo:", 6, "photo number"),
        ("0:dog", 0, "weight must be above 0"),
        ("500:dog", 0, "at most 100"),
        ("2:", 2, "after the weight"),
        ('""', 0, "empty quotes"),
        ("a + - b", 4, "expected a term"),
    ],
)
def test_syntax_errors_point_at_the_problem(query: str, position: int, needle: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    assert info.value.position == position
    assert needle in info.value.explanation
    assert isinstance(info.value, QueryError)
    assert f"at character {position + 1}" in str(info.value)


def test_too_many_terms() -> None:
    with pytest.raises(QueryError, match="too many terms"):
        parse_query(" + ".join(["a"] * 17))
