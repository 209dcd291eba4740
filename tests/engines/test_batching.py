"""The dynamic batcher on a real OpenVINO runner of the tiny bundle.

To hold the tower busy at a known moment the tests borrow the runner's only infer
request themselves (`RunnerOptions(workers=1)`): the batcher's worker then blocks inside
a real `run` exactly as it would behind a long indexer batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engines.base import RunnerOptions, TowerRunner
from engines.batching import BatchPolicy, DynamicBatcher, bulk_priority
from engines.errors import EngineBusyError, EngineError, InputSpecError
from engines.registry import create_runner
from tests.engines.test_concurrency import _artifact


@pytest.fixture
def text_runner(precisions_bundle: Path) -> Iterator[TowerRunner]:
    art = _artifact(precisions_bundle, "text/openvino/fp32")
    with create_runner(precisions_bundle, art, RunnerOptions(workers=1)) as runner:
        yield runner


def _ids(seed: int, rows: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 49406, size=(rows, width), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 49406, 49407
    return ids


def _in_threads(calls: list[threading.Thread]) -> None:
    for t in calls:
        t.start()
    for t in calls:
        t.join(30)


def test_concurrent_callers_get_their_own_rows_from_fewer_runs(text_runner: TowerRunner) -> None:
    inputs = [_ids(i, 1 + i % 3, 5 + i % 7) for i in range(16)]  # ragged widths: padded
    expected = [text_runner.run(x) for x in inputs]
    got: dict[int, np.ndarray] = {}
    with DynamicBatcher(text_runner, BatchPolicy(max_batch=16, max_queue_delay_us=20_000), 0) as b:
        start = threading.Barrier(len(inputs))

        def call(i: int) -> None:
            start.wait()
            got[i] = b.run(inputs[i])

        _in_threads([threading.Thread(target=call, args=(i,)) for i in range(len(inputs))])
        assert b.batches_run < len(inputs)  # requests were coalesced
    for i, e in enumerate(expected):
        assert got[i].shape == e.shape
        np.testing.assert_allclose(got[i], e, atol=2e-5)
        others = [j for j in range(len(inputs)) if j != i and expected[j].shape == e.shape]
        assert not any(np.allclose(got[i], expected[j], atol=1e-3) for j in others)


def test_batching_off_runs_each_request_alone(text_runner: TowerRunner) -> None:
    x = _ids(1, 3, 8)
    with DynamicBatcher(text_runner, BatchPolicy(max_batch=1), 0) as b:
        assert np.array_equal(b.run(x), text_runner.run(x))
        with bulk_priority():
            assert np.array_equal(b.run(x), text_runner.run(x))  # a bulk request is not cut
        assert b.batches_run == 2


def test_interactive_goes_before_waiting_bulk_and_bulk_is_cut(text_runner: TowerRunner) -> None:
    done: list[str] = []
    policy = BatchPolicy(max_batch=4, max_queue_delay_us=0)
    with DynamicBatcher(text_runner, policy, 0) as b:
        bulk_x = _ids(2, 12, 6)

        def bulk() -> None:
            with bulk_priority():
                out = b.run(bulk_x)
            np.testing.assert_allclose(out, text_runner.run(bulk_x), atol=2e-5)
            done.append("bulk")

        def interactive() -> None:
            b.run(_ids(3, 1, 6))
            done.append("interactive")

        with text_runner._requests.borrow():  # type: ignore[attr-defined]
            threads = [threading.Thread(target=bulk)]
            threads[0].start()
            time.sleep(0.3)  # the first 4-row piece is now inside the held run
            threads.append(threading.Thread(target=interactive))
            threads[1].start()
            time.sleep(0.3)
        for t in threads:
            t.join(30)
        assert done == ["interactive", "bulk"]
        assert b.batches_run == 4  # 3 bulk pieces + the interactive request


def test_full_queue_answers_busy_at_once_and_recovers(text_runner: TowerRunner) -> None:
    policy = BatchPolicy(max_batch=1, queue_size=2, retry_after_s=3)
    with DynamicBatcher(text_runner, policy, 0) as b:
        results: list[np.ndarray] = []
        waiting = [threading.Thread(target=lambda: results.append(b.run(_ids(4, 1, 6))))]
        with text_runner._requests.borrow():  # type: ignore[attr-defined]
            waiting[0].start()
            time.sleep(0.3)  # taken by the worker, blocked in the run
            waiting += [threading.Thread(target=lambda: results.append(b.run(_ids(5, 1, 6))))]
            waiting += [threading.Thread(target=lambda: results.append(b.run(_ids(6, 1, 6))))]
            for t in waiting[1:]:
                t.start()
            time.sleep(0.3)  # two waiting: the queue is full
            started = time.monotonic()
            with pytest.raises(EngineBusyError, match="queue_size 2") as info:
                b.run(_ids(7, 1, 6))
            assert time.monotonic() - started < 0.5 and info.value.retry_after_s == 3
        for t in waiting:
            t.join(30)
        assert len(results) == 3
        assert b.run(_ids(7, 1, 6)).shape == (1, text_runner.dim)  # room again


def test_a_failing_request_fails_alone(text_runner: TowerRunner) -> None:
    with DynamicBatcher(text_runner, BatchPolicy(), 0) as b:
        with pytest.raises(InputSpecError, match="rank 3"):
            b.run(np.zeros((1, 2, 3), np.int64))
        assert b.run(_ids(8, 2, 6)).shape == (2, text_runner.dim)
    with pytest.raises(EngineError, match="closed"):
        b.run(_ids(8, 1, 6))
