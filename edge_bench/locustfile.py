"""The Locust user of `edge-bench load` (run headless by `edge_bench.load_bench`, never
imported by the appliance): logs in, then sends the mix of `edge_bench.load_mix` with
its weights and checks every answer against the single-client reference.

Inputs come from the spec file named by EDGE_LOAD_SPEC (calls, reference answers,
the bench's session cookie and CSRF token, request cap); the counts of errors, busy answers and wrong answers per kind
are written to EDGE_LOAD_COUNTS when the run stops.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

from locust import HttpUser, constant, events, task

from edge_bench.load_mix import WEIGHTS, Call, fingerprint, same_answer


@functools.cache
def _spec() -> dict[str, Any]:
    """The spec file (read on first use, so importing this module needs no environment)."""
    spec: dict[str, Any] = json.loads(Path(os.environ["EDGE_LOAD_SPEC"]).read_text())
    calls: dict[str, list[Call]] = {}
    for raw in spec["calls"]:
        image = base64.b64decode(raw["image"]) if raw.get("image") else None
        call = Call(**{**raw, "image": image})
        calls.setdefault(call.kind, []).append(call)
    spec["by_kind"] = calls
    spec["kinds"] = [k for k, w in WEIGHTS.items() if w and k in calls]
    return spec


COUNTS: Counter[str] = Counter()
WRONG: list[dict[str, Any]] = []  # the first few wrong answers, for the report


class MixedClient(HttpUser):
    """One person on the LAN: closed loop, no think time (throughput at N clients)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        """The bench's logged-in session (logging in is slow on purpose: scrypt)."""
        self.client.cookies.set("edge_session", _spec()["cookie"])
        self.client.headers["X-CSRF-Token"] = _spec()["csrf"]

    @task
    def mixed(self) -> None:
        spec = _spec()
        if COUNTS["sent"] >= spec["max_requests"]:
            if self.environment.runner is not None:
                self.environment.runner.quit()
            return
        COUNTS["sent"] += 1
        kind = random.choices(spec["kinds"], [WEIGHTS[k] for k in spec["kinds"]])[0]
        call = random.choice(spec["by_kind"][kind])
        files = {"image": ("q.jpg", call.image, "image/jpeg")} if call.image else None
        with self.client.request(
            call.method, call.path, params=call.params, json=call.json, files=files,
            name=kind, catch_response=True,
        ) as r:  # fmt: skip
            self._check(call, r)

    def _check(self, call: Call, r: Any) -> None:
        if r.status_code != 200:
            COUNTS[f"{'busy' if r.status_code == 503 else 'error'}:{call.kind}"] += 1
            r.failure(f"HTTP {r.status_code}")
            return
        got = fingerprint(call.kind, r.status_code, r.content, _json(r))
        ref = _spec()["refs"][call.name]
        if same_answer(call.kind, got, ref, _spec()["new_from_id"]):
            r.success()
        else:
            COUNTS[f"wrong:{call.kind}"] += 1
            if len(WRONG) < 3:
                WRONG.append({"call": call.name, "got": got, "ref": ref})
            r.failure("wrong answer: not the single-client reference")


def _json(r: Any) -> Any:
    return r.json() if r.headers.get("Content-Type", "").startswith("application/json") else None


@events.test_stop.add_listener
def _write_counts(**_kwargs: Any) -> None:
    counts = {**COUNTS, "wrong_examples": WRONG}
    Path(os.environ["EDGE_LOAD_COUNTS"]).write_text(json.dumps(counts, default=str))
