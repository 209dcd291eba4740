"""Tag SQL of the library: label sets, labels, few-shot examples and photo tags.

Why stored this way: a label's vector (prompt ensemble + examples) is cached with the
bundle that made it, so re-tagging after a change is one matrix product over the stored
photo embeddings; each set carries a ``version`` bumped by every edit, and tags are
written only if the set still has the version they were computed from (a set edited or
deleted while a tagging job ran is refused with `LabelConflictError`, never half-written).
Only assigned tags are stored (with calibrated score and raw cosine), not the full
photos x labels matrix. See docs/TAGS.md for the method.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_app.errors import LabelConflictError, NotFoundError
from edge_app.library.connection import SqliteStore
from edge_app.library.records import id_chunks, utc_now
from edge_app.library.trash_rows import VISIBLE_IDS_SQL

# Photo ids carrying a label of this name (any set); ``{param}`` names the SQL parameter.
TAGGED_PHOTOS_SQL = (
    "SELECT pt.photo_id FROM photo_tags pt JOIN labels l ON l.id = pt.label_id "
    "WHERE l.name = :{param}"
)


@dataclass(frozen=True)
class LabelDef:
    """A label as a user defines it: name, optional prompts/threshold/example photos."""

    name: str
    prompts: tuple[str, ...] = ()
    threshold: float | None = None
    examples: tuple[int, ...] = ()
    pooling: str = "mean"  # "mean": one prompt-ensemble vector; "any": best of its prompts


@dataclass(frozen=True)
class Label:
    """A stored label; ``vector`` is None until computed for ``vector_bundle``."""

    id: int
    set_id: int
    name: str
    prompts: tuple[str, ...]
    threshold: float | None
    pooling: str = "mean"
    examples: tuple[int, ...] = ()
    vector: np.ndarray | None = None  # (K, D): K = 1 for "mean", one row per prompt for "any"
    vector_bundle: str | None = None
    center: float | None = None
    scale: float | None = None
    count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "prompts": list(self.prompts),
            "threshold": self.threshold, "pooling": self.pooling, "examples": list(self.examples),
            "count": self.count,
        }  # fmt: skip


@dataclass(frozen=True)
class LabelSet:
    """A named group of labels (``builtin`` names the shipped set it came from)."""

    id: int
    name: str
    description: str
    builtin: str | None
    version: int
    tagged_version: int | None
    tagged_generation: int | None
    tagged_bundle: str | None
    tagged_at: str | None
    label_count: int = 0
    labels: tuple[Label, ...] = field(default=())

    @property
    def is_current(self) -> bool:
        """Tags reflect the latest definition (not necessarily the latest photos)."""
        return self.tagged_version == self.version

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "description": self.description,
            "builtin": self.builtin, "version": self.version, "label_count": self.label_count,
            "tagged_version": self.tagged_version, "tagged_at": self.tagged_at,
        }  # fmt: skip
        if self.labels:
            out["labels"] = [lab.to_json() for lab in self.labels]
        return out


@dataclass(frozen=True)
class TagCount:
    """One tag for the Things page: how many photos, and the best-scoring one as cover."""

    name: str
    count: int
    cover_photo_id: int
    sets: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "count": self.count, "sets": list(self.sets),
            "cover_photo_id": self.cover_photo_id,
            "cover_url": f"/api/photos/{self.cover_photo_id}/thumb",
        }  # fmt: skip


_SET_SELECT = (
    "SELECT s.*, (SELECT COUNT(*) FROM labels l WHERE l.set_id = s.id) AS label_count "
    "FROM label_sets s"
)


class TagStore(SqliteStore):
    """Label sets, labels and photo tags (part of `Library`; all tag statements are here)."""

    # ------------------------------------------------------------------ sets
    def create_label_set(
        self, name: str, labels: Sequence[LabelDef], description: str = "",
        builtin: str | None = None,
    ) -> LabelSet:  # fmt: skip
        """A new set with its labels, in one transaction (nothing stored on any error)."""
        with self.transaction():
            if self._rows("SELECT id FROM label_sets WHERE name = ?", [name]):
                raise LabelConflictError(
                    f"a label set named {name!r} already exists: pick another name or edit it"
                )
            cur = self._exec(
                "INSERT INTO label_sets (name, description, builtin, created_at) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                [name, description, builtin, utc_now()],
            )
            set_id = int(cur.fetchone()[0])
            for label in labels:
                self._insert_label(set_id, label)
        return self.get_label_set(set_id)

    def replace_labels(
        self, set_id: int, labels: Sequence[LabelDef], description: str | None = None
    ) -> LabelSet:
        """Make the set's labels exactly ``labels`` (same-name labels keep their id and tags)."""
        with self.transaction():
            current = {lab.name.casefold(): lab for lab in self._labels(set_id)}
            wanted = {lab.name.casefold() for lab in labels}
            for key, old in current.items():
                if key not in wanted:
                    self._exec("DELETE FROM labels WHERE id = ?", [old.id])
            for label in labels:
                old_label = current.get(label.name.casefold())
                if old_label is None:
                    self._insert_label(set_id, label)
                else:
                    self._update_label(old_label.id, label)
            if description is not None:
                self._exec(
                    "UPDATE label_sets SET description = ? WHERE id = ?", [description, set_id]
                )
            self._bump_set(set_id)
        return self.get_label_set(set_id)

    def delete_label_set(self, set_id: int) -> None:
        """Forget a set, its labels and their tags (photos are never touched)."""
        with self.transaction():
            if self._exec("DELETE FROM label_sets WHERE id = ?", [set_id]).rowcount == 0:
                raise NotFoundError(f"label set {set_id} does not exist (already deleted?)")

    def get_label_set(self, set_id: int, with_labels: bool = True) -> LabelSet:
        rows = self._rows(f"{_SET_SELECT} WHERE s.id = ?", [set_id])
        if not rows:
            raise NotFoundError(f"label set {set_id} does not exist (deleted meanwhile?)")
        return self._set_from_row(rows[0], with_labels)

    def find_label_set(self, name: str) -> LabelSet | None:
        rows = self._rows(f"{_SET_SELECT} WHERE s.name = ?", [name])
        return self._set_from_row(rows[0], True) if rows else None

    def list_label_sets(self) -> list[LabelSet]:
        rows = self._rows(f"{_SET_SELECT} ORDER BY s.name")
        return [self._set_from_row(r, False) for r in rows]

    def _set_from_row(self, row: dict[str, Any], with_labels: bool) -> LabelSet:
        values = {k: row[k] for k in LabelSet.__dataclass_fields__ if k in row and k != "labels"}
        labels = tuple(self._labels(int(row["id"]))) if with_labels else ()
        return LabelSet(**values, labels=labels)

    # ---------------------------------------------------------------- labels
    def _insert_label(self, set_id: int, label: LabelDef) -> None:
        cur = self._exec(
            "INSERT INTO labels (set_id, name, prompts, threshold, pooling) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (set_id, name) DO NOTHING RETURNING id",
            [set_id, label.name, json.dumps(list(label.prompts)), label.threshold, label.pooling],
        )
        row = cur.fetchone()
        if row is None:
            raise LabelConflictError(
                f"label {label.name!r} appears twice in the set: label names must be unique "
                "(case does not count)"
            )
        self._set_examples(int(row[0]), label.examples)

    def _update_label(self, label_id: int, label: LabelDef) -> None:
        self._exec(
            "UPDATE labels SET name = ?, prompts = ?, threshold = ?, pooling = ?, vector = NULL, "
            "vector_bundle = NULL WHERE id = ?",
            [label.name, json.dumps(list(label.prompts)), label.threshold, label.pooling, label_id],
        )
        self._exec("DELETE FROM label_examples WHERE label_id = ?", [label_id])
        self._set_examples(label_id, label.examples)

    def _set_examples(self, label_id: int, photo_ids: Sequence[int]) -> None:
        known = {int(r["id"]) for r in self._photos_with_embedding(photo_ids)}
        missing = sorted(set(photo_ids) - known)
        if missing:
            raise NotFoundError(
                f"example photos {missing} do not exist or are not indexed yet: pick indexed photos"
            )
        for photo_id in dict.fromkeys(photo_ids):
            self._exec(
                "INSERT INTO label_examples (label_id, photo_id) VALUES (?, ?)",
                [label_id, photo_id],
            )

    def _photos_with_embedding(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for chunk in id_chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id FROM photos WHERE embedding IS NOT NULL AND id IN ({marks})"
            rows.extend(self._rows(sql, chunk))
        return rows

    def _labels(self, set_id: int) -> list[Label]:
        rows = self._rows(
            "SELECT l.*, (SELECT COUNT(*) FROM photo_tags t WHERE t.label_id = l.id "
            f"AND t.photo_id IN ({VISIBLE_IDS_SQL})) AS count "
            "FROM labels l WHERE l.set_id = ? ORDER BY l.id",
            [set_id],
        )
        examples: dict[int, list[int]] = {}
        for r in self._rows(
            "SELECT e.label_id, e.photo_id FROM label_examples e JOIN labels l "
            "ON l.id = e.label_id WHERE l.set_id = ? ORDER BY e.photo_id",
            [set_id],
        ):
            examples.setdefault(int(r["label_id"]), []).append(int(r["photo_id"]))
        return [_label_from_row(r, examples.get(int(r["id"]), [])) for r in rows]

    def _bump_set(self, set_id: int) -> None:
        cur = self._exec("UPDATE label_sets SET version = version + 1 WHERE id = ?", [set_id])
        if cur.rowcount == 0:
            raise NotFoundError(f"label set {set_id} does not exist (deleted meanwhile?)")

    def save_label_vectors(
        self, set_id: int, version: int, vectors: Sequence[tuple[int, np.ndarray]], bundle: str
    ) -> None:
        """Cache label vectors (float32 blobs) computed from definition ``version``."""
        with self.transaction():
            self._check_version(set_id, version)
            for label_id, vec in vectors:
                self._exec(
                    "UPDATE labels SET vector = ?, vector_bundle = ?, dim = ? WHERE id = ?",
                    [np.asarray(vec, np.float32).tobytes(), bundle, vec.shape[-1], label_id],
                )

    def _check_version(self, set_id: int, version: int) -> None:
        rows = self._rows("SELECT version FROM label_sets WHERE id = ?", [set_id])
        if not rows:
            raise LabelConflictError(
                f"label set {set_id} was deleted while it was being tagged: its results "
                "were discarded (the other sets' tags are unchanged)"
            )
        if int(rows[0]["version"]) != version:
            raise LabelConflictError(
                f"label set {set_id} was edited while it was being tagged: its results "
                "were discarded; a new tagging run picks up the edit"
            )

    # ------------------------------------------------------------------ tags
    def save_tags(
        self, set_id: int, version: int, calibration: Sequence[tuple[int, float, float]],
        tags: Iterable[tuple[int, int, float, float]], generation: int, bundle: str,
    ) -> int:  # fmt: skip
        """Replace the set's tags in ONE transaction, if it still has ``version``.

        ``calibration`` rows are (label_id, center, scale); ``tags`` rows are
        (photo_id, label_id, calibrated score, cosine). Returns the number of tags written.
        """
        with self.transaction():
            self._check_version(set_id, version)
            self._exec(
                "DELETE FROM photo_tags WHERE label_id IN (SELECT id FROM labels WHERE set_id = ?)",
                [set_id],
            )
            self.db.conn.executemany(
                "UPDATE labels SET center = ?, scale = ? WHERE id = ?",
                [(c, s, lid) for lid, c, s in calibration],
            )
            cur = self.db.conn.executemany(
                "INSERT INTO photo_tags (photo_id, label_id, score, cosine) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                tags,
            )
            self._exec(
                "UPDATE label_sets SET tagged_version = ?, tagged_generation = ?, "
                "tagged_bundle = ?, tagged_at = ? WHERE id = ?",
                [version, generation, bundle, utc_now(), set_id],
            )
            return int(cur.rowcount)

    def tag_counts(self, limit: int = 500) -> list[TagCount]:
        """Tags with shown photos, most photos first; the cover is the best-scoring one.

        Trashed photos and those of an unplugged root are not counted: the count is what
        the tag's page lists."""
        rows = self._rows(
            "SELECT l.name AS name, COUNT(DISTINCT t.photo_id) AS n, "
            "GROUP_CONCAT(DISTINCT s.name) AS sets, "
            "(SELECT t2.photo_id FROM photo_tags t2 JOIN labels l2 ON l2.id = t2.label_id "
            f" WHERE l2.name = l.name AND t2.photo_id IN ({VISIBLE_IDS_SQL}) "
            " ORDER BY t2.score DESC LIMIT 1) AS cover "
            "FROM photo_tags t JOIN labels l ON l.id = t.label_id "
            f"JOIN label_sets s ON s.id = l.set_id WHERE t.photo_id IN ({VISIBLE_IDS_SQL}) "
            "GROUP BY l.name COLLATE NOCASE "
            "ORDER BY n DESC, l.name LIMIT ?",
            [limit],
        )
        return [
            TagCount(r["name"], int(r["n"]), int(r["cover"]), tuple(sorted(r["sets"].split(","))))
            for r in rows
        ]

    def photo_tags(self, photo_id: int) -> list[tuple[str, str, float]]:
        """(set name, label name, calibrated score) of one photo, best first."""
        rows = self._rows(
            "SELECT s.name AS set_name, l.name AS label, t.score AS score FROM photo_tags t "
            "JOIN labels l ON l.id = t.label_id JOIN label_sets s ON s.id = l.set_id "
            "WHERE t.photo_id = ? ORDER BY t.score DESC",
            [photo_id],
        )
        return [(r["set_name"], r["label"], float(r["score"])) for r in rows]

    def missing_tag_names(self, names: Sequence[str]) -> list[str]:
        """The names in ``names`` that no label of any set has (case-insensitive)."""
        return [n for n in names if not self._rows("SELECT 1 FROM labels WHERE name = ?", [n])]

    def tag_scores(self, photo_ids: Sequence[int], names: Sequence[str]) -> dict[int, float]:
        """Sum over ``names`` of each photo's best calibrated score (tag-only ranking)."""
        out: dict[int, float] = {}
        marks = ",".join("?" * len(names))
        for chunk in id_chunks(list(photo_ids)):
            sql = (
                "SELECT t.photo_id AS id, MAX(t.score) AS s FROM photo_tags t JOIN labels l "
                f"ON l.id = t.label_id WHERE l.name IN ({marks}) AND t.photo_id IN "
                f"({','.join('?' * len(chunk))}) GROUP BY t.photo_id, l.name COLLATE NOCASE"
            )
            for r in self._rows(sql, [*names, *chunk]):
                out[int(r["id"])] = out.get(int(r["id"]), 0.0) + float(r["s"])
        return out

    def tag_totals(self) -> dict[str, int]:
        """Counts for /api/status: sets, labels, tags of photos in the library (not trashed),
        such photos with a tag."""
        row = self._rows(
            "SELECT (SELECT COUNT(*) FROM label_sets) AS sets, "
            "(SELECT COUNT(*) FROM labels) AS labels"
        )[0]
        counts = self.library_counts()  # kept by trigger (edge_app.library.counters)
        return {**{k: int(v) for k, v in row.items()},
                "tags": counts["tags"], "tagged_photos": counts["tagged_photos"]}  # fmt: skip


def _label_from_row(r: dict[str, Any], examples: list[int]) -> Label:
    blob = r["vector"]
    return Label(
        id=int(r["id"]), set_id=int(r["set_id"]), name=r["name"],
        prompts=tuple(json.loads(r["prompts"])), threshold=r["threshold"], pooling=r["pooling"],
        examples=tuple(examples), vector=_matrix(blob, r["dim"]),
        vector_bundle=r["vector_bundle"], center=r["center"], scale=r["scale"],
        count=int(r["count"]),
    )  # fmt: skip


def _matrix(blob: bytes | None, dim: int | None) -> np.ndarray | None:
    if blob is None or not dim:
        return None
    return np.frombuffer(blob, dtype=np.float32).reshape(-1, int(dim)).copy()
