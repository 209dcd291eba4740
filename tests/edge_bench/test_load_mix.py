"""What counts as "the same answer" in the load/soak checks, and the goals verdict."""

from __future__ import annotations

from typing import Any

from edge_bench.load_mix import mixed_calls, same_answer
from edge_bench.load_report import goals

REF = [(1, 0.9), (2, 0.8), (3, 0.8), (4, 0.5)]


def test_float_noise_and_tied_swaps_are_the_same_answer() -> None:
    assert same_answer("text", [(1, 0.90001), (3, 0.8), (2, 0.80002), (4, 0.5)], REF)


def test_another_requests_results_are_wrong() -> None:
    assert not same_answer("text", [(1, 0.9), (2, 0.8), (9, 0.8), (4, 0.5)], REF)
    assert not same_answer("text", [(4, 0.5), (2, 0.8), (3, 0.8), (1, 0.9)], REF)
    assert not same_answer("text", REF[:3], REF)
    assert not same_answer("browse", [1, 2], [2, 1])
    assert not same_answer("embed", [[0.1, 0.2]], [[0.1, 0.3]])
    assert same_answer("embed", [[0.1, 0.2]], [[0.10001, 0.2]])


def test_photos_imported_since_the_reference_are_set_aside() -> None:
    got = [(1, 0.9), (1000, 0.85), (2, 0.8), (3, 0.8)]
    assert same_answer("text", got, REF, new_from_id=1000)
    assert not same_answer("text", got, REF)
    assert not same_answer("text", [(1, 0.9), (1000, 0.85), (4, 0.5)], REF, new_from_id=1000)


def test_the_mix_has_every_kind_and_scopes_searches() -> None:
    calls = mixed_calls([5, 6], b"jpeg", folder="base")
    assert {c.kind for c in calls} == {"text", "browse", "photo", "thumb", "image", "embed"}
    assert all(c.params.get("folder") == "base" for c in calls if c.kind in ("text", "image"))
    assert len({c.name for c in calls}) == len(calls)


def _row(batching: str, importing: bool, clients: int, qps: float, p95: float, p99: float) -> Any:
    text = {"qps": qps, "p95_ms": p95, "p99_ms": p99}
    return {"batching": batching, "import": importing, "clients": clients, "errors": 0,
            "wrong": 0, "kinds": {"text": text}}  # fmt: skip


def test_goals_verdicts_follow_the_measurements() -> None:
    rows = [_row("on", False, 1, 10, 30, 40), _row("on", False, 16, 35, 100, 250),
            _row("on", True, 16, 20, 250, 400), _row("off", False, 16, 12, 300, 500)]  # fmt: skip
    verdicts = {g[0]: (g[2], g[3]) for g in goals(rows)}
    assert [v[1] for v in verdicts.values()] == ["met", "met", "met", "**missed**"]
    assert "3.50x" in verdicts["text QPS 16 clients / 1 client, batching on"][0]
