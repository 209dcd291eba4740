"""The request mix of the load and soak benchmarks (and the CI load test), and what
"the same answer" means, so a response carrying another request's results is caught.

Kinds: text search, timeline browse, photo metadata, thumbnail, image search, text
embeddings. Every answer is reduced to a fingerprint and compared with the answer the
same call got from one client alone: ids in order (scores may differ by float noise
between batch sizes, ties may swap), thumbnail bytes, embeddings within 1e-4.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SCORE_TOL = 1e-4  # scores of one text embedded alone vs padded in a batch: ~1e-6 here
EMBED_TOL = 1e-4
#: Share of each kind in the benchmark mix (the issue's: text ~60 %, browse ~25 %, rest).
WEIGHTS = {"text": 12, "browse": 5, "photo": 1, "thumb": 1, "image": 1, "embed": 0}
TEXTS = (
    "a red circle", "a blue square", "a green triangle", "a yellow star",
    "something round", "a dog on the beach", "red car at night", "birthday cake",
    "snowy forest", "a purple shape on white", "two colours", "a small orange circle",
)  # fmt: skip


@dataclass(frozen=True)
class Call:
    """One HTTP request of the mix; `name` keys the single-client reference answer."""

    kind: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    image: bytes | None = None

    @property
    def name(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        body = "" if self.json is None else str(self.json)
        return f"{self.kind} {self.path}?{query}{body}"


def mixed_calls(
    photo_ids: Sequence[int], image: bytes, folder: str | None = None,
    browse_folder: str | None = None, texts: Sequence[str] = TEXTS,
) -> list[Call]:  # fmt: skip
    """Every distinct call of the mix (texts, a few photos, one query image, embeds).

    `folder` scopes the searches, `browse_folder` (default: `folder`) the timeline."""
    scope: dict[str, str] = {"folder": folder} if folder else {}
    shown = browse_folder or folder
    browse: dict[str, str] = {"folder": shown} if shown else {}
    calls = [Call("text", "GET", "/api/search", {"q": t, "limit": "24", **scope}) for t in texts]
    calls += [Call("browse", "GET", "/api/timeline", {"limit": "48", **browse})]
    calls += [Call("browse", "GET", "/api/timeline", {"limit": "48", "offset": "12", **browse})]
    calls += [Call("photo", "GET", f"/api/photos/{i}") for i in photo_ids[:4]]
    calls += [Call("thumb", "GET", f"/api/photos/{i}/thumb") for i in photo_ids[:4]]
    calls += [Call("image", "POST", "/api/search/image", {"limit": "24", **scope}, image=image)]
    calls += [
        Call("embed", "POST", "/api/embed/text", json={"texts": list(texts[: 1 + k])})
        for k in range(0, 7, 2)
    ]
    return calls


def send(session: Any, base: str, call: Call, timeout: float = 120) -> tuple[int, Any]:
    """Make `call` with a `requests.Session`; returns (status, fingerprint)."""
    files = {"image": ("q.jpg", call.image, "image/jpeg")} if call.image else None
    r = session.request(
        call.method, base + call.path, params=call.params, json=call.json, files=files,
        timeout=timeout,
    )  # fmt: skip
    data = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else None
    return r.status_code, fingerprint(call.kind, r.status_code, r.content, data)


def fingerprint(kind: str, status: int, body: bytes, data: Any) -> Any:
    """The comparable essence of an answer (`data` is the parsed JSON, if any)."""
    if status != 200:
        return ("status", status)
    if kind in ("text", "image"):
        return [(r["id"], float(r["score"])) for r in data["results"]]
    if kind == "browse":
        return [r["id"] for r in data["results"]]
    if kind == "thumb":
        return hashlib.sha256(body).hexdigest()
    if kind == "embed":
        return data["embeddings"]
    return data


def same_answer(kind: str, got: Any, ref: Any, new_from_id: int | None = None) -> bool:
    """Equal, up to float noise in scores/embeddings and swaps between tied scores.

    With `new_from_id` (an import is running), search hits with ids from there on are
    photos imported since the reference: they are dropped, and the rest must be the
    reference's ranking (its first rows)."""
    if kind in ("text", "image"):
        if new_from_id is not None and isinstance(got, list):
            got = [hit for hit in got if hit[0] < new_from_id]
            ref = ref[: len(got)]
        return _same_ranking(got, ref)
    if kind == "embed":
        return _close_rows(got, ref)
    return bool(got == ref)


def _same_ranking(got: Any, ref: Any) -> bool:
    if not isinstance(got, list) or len(got) != len(ref):
        return False
    ref_scores = dict(ref)
    for (gid, gscore), (rid, rscore) in zip(got, ref, strict=True):
        if abs(gscore - rscore) > SCORE_TOL:
            return False
        if gid != rid and abs(ref_scores.get(gid, -9.0) - gscore) > SCORE_TOL:
            return False  # a different photo, not a tie that swapped places
    return True


def _close_rows(got: Any, ref: Any) -> bool:
    if not isinstance(got, list) or len(got) != len(ref):
        return False
    return all(
        len(g) == len(r) and all(abs(a - b) <= EMBED_TOL for a, b in zip(g, r, strict=True))
        for g, r in zip(got, ref, strict=True)
    )
