"""The query grammar with Chinese text, full-width quotes/plus/minus/colon and CJK spaces."""

from __future__ import annotations

import pytest

from edge_app.search.query import QuerySyntaxError, parse_query


def _terms(query: str) -> list[tuple[float, str | None]]:
    return [(t.weight, t.text) for t in parse_query(query).terms]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("红色的圆形", [(1.0, "红色的圆形")]),
        ("紅色的圓形 on a 白色背景", [(1.0, "紅色的圓形 on a 白色背景")]),
        ("“红色” － “三角形”", [(1.0, "红色"), (-1.0, "三角形")]),
        ("＂海滩＂ ＋ ＂日落＂", [(1.0, "海滩"), (1.0, "日落")]),
        ("「海滩」 - 人", [(1.0, "海滩"), (-1.0, "人")]),
        ("海滩　－　人群", [(1.0, "海滩"), (-1.0, "人群")]),  # ideographic spaces
        ("2：狗 + 猫", [(2.0, "狗"), (1.0, "猫")]),
        ("红色-三角形", [(1.0, "红色-三角形")]),  # no space before '-': still text
        ("猫🐱 − 狗", [(1.0, "猫🐱"), (-1.0, "狗")]),  # U+2212 minus sign
    ],
)
def test_cjk_queries(query: str, expected: list[tuple[float, str | None]]) -> None:
    assert _terms(query) == expected


def test_full_width_photo_term() -> None:
    assert parse_query("photo：12 － 红色").photo_ids == [12]


def test_error_position_points_into_the_typed_query() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("“红色的圆形")
    assert info.value.position == 0 and "unterminated quote" in str(info.value)
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("红色 －")
    assert info.value.position == 3
