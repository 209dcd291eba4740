"""Every backend's `run` from many threads at once: each caller gets exactly its own rows.

The regression: one OpenVINO infer request per tower, shared by the web threads and the
indexer, handed one request's output to another caller ("Infer Request is busy", or
silently another client's vectors when the batch sizes matched). Each CPU backend and
precision of the real tiny bundle (ORT fp32; OpenVINO fp32, fp32 + bf16 hint, int8,
int8w) is run by 8 threads with different inputs, the same batch sizes on purpose (a
wrong output then has the right shape), and compared with the single-threaded result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engines.base import RunnerOptions, TowerRunner
from engines.manifest import Artifact, Manifest
from engines.pool import Pool
from engines.registry import create_runner

THREADS = 8
ROUNDS = 12
CASES = [
    ("onnxruntime", "fp32", False),
    ("openvino", "fp32", False),
    ("openvino", "fp32", True),  # the bf16 hint (f32 where the CPU lacks native BF16)
    ("openvino", "int8", False),
    ("openvino", "int8w", False),
]


def _artifact(bundle: Path, key: str) -> Artifact:
    return next(a for a in Manifest.load(bundle).artifacts if a.key == key)


def _inputs(runner: TowerRunner, seed: int, batch: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if runner.artifact.tower == "image":
        return rng.standard_normal((batch, 3, 64, 64)).astype(np.float32)
    ids = rng.integers(1, 49406, size=(batch, 12), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 49406, 49407  # SOT ... EOT, as the tokenizer writes them
    return ids


def hammer(run: Callable[[int], np.ndarray], expected: list[np.ndarray]) -> list[str]:
    """THREADS threads, started together, each running its own input ROUNDS times."""
    problems: list[str] = []
    start = threading.Barrier(THREADS)

    def worker(i: int) -> None:
        start.wait()
        for r in range(ROUNDS):
            try:
                got = run(i)
            except Exception as exc:  # a crash is a failure to report, not to hide
                problems.append(f"thread {i} round {r}: {exc!r}")
                continue
            if not np.array_equal(got, expected[i]):
                problems.append(f"thread {i} round {r}: another caller's output")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return problems


@pytest.mark.parametrize("tower", ["image", "text"])
@pytest.mark.parametrize(("backend", "precision", "bf16"), CASES)
def test_concurrent_runs_return_each_callers_rows(
    precisions_bundle: Path, backend: str, precision: str, bf16: bool, tower: str
) -> None:
    art = _artifact(precisions_bundle, f"{tower}/{backend}/{precision}")
    with create_runner(precisions_bundle, art, RunnerOptions(bf16=bf16)) as runner:
        inputs = [_inputs(runner, seed=i, batch=1 + i % 2) for i in range(THREADS)]
        expected = [runner.run(x) for x in inputs]  # single-threaded reference
        again = [runner.run(x) for x in inputs]
        assert all(np.array_equal(a, e) for a, e in zip(again, expected, strict=True))
        assert not any(np.allclose(expected[0], e) for e in expected[2::2])  # inputs differ
        problems = hammer(lambda i: runner.run(inputs[i]), expected)
    assert not problems, f"{len(problems)} of {THREADS * ROUNDS} runs wrong: {problems[:5]}"


def test_openvino_pool_is_sized_to_the_device_or_the_option(precisions_bundle: Path) -> None:
    art = _artifact(precisions_bundle, "text/openvino/fp32")
    with create_runner(precisions_bundle, art) as runner:
        assert runner.workers >= 1  # OPTIMAL_NUMBER_OF_INFER_REQUESTS under the LATENCY hint
        assert runner.describe()["infer_requests"] == str(runner.workers)
    with create_runner(precisions_bundle, art, RunnerOptions(workers=3)) as runner:
        assert runner.workers == 3
        x = _inputs(runner, 0, 2)
        assert np.array_equal(runner.run(x), runner.run(x))


def test_pool_lends_each_item_to_one_borrower() -> None:
    pool = Pool(["a", "b"])
    holders = {"a": 0, "b": 0}
    overlaps: list[str] = []
    lock = threading.Lock()

    def borrow_one() -> None:
        for _ in range(50):
            with pool.borrow() as item:
                with lock:
                    holders[item] += 1
                    if holders[item] > 1:
                        overlaps.append(item)
                threading.Event().wait(0.0005)
                with lock:
                    holders[item] -= 1

    threads = [threading.Thread(target=borrow_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not overlaps and holders == {"a": 0, "b": 0}
