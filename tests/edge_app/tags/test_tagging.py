"""Zero-shot tagging on the toy-shapes bundle: real SQLite, real ONNX Runtime encoder."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from build_engines.shapes import COLORS, SHAPES
from edge_app.errors import LabelConflictError, LabelError, NotFoundError
from edge_app.library.tags import LabelDef
from tests.edge_app.tags.conftest import COLOUR_LABELS, SHAPE_LABELS, Shapes, truth_matrix


def _map(truth: np.ndarray, scores: np.ndarray) -> float:
    return float(
        np.mean([average_precision_score(truth[:, j], scores[:, j]) for j in range(truth.shape[1])])
    )


def _new_set(ctx: Any, name: str, labels: list[LabelDef]) -> int:
    existing = ctx.library.find_label_set(name)
    if existing is not None:
        ctx.library.delete_label_set(existing.id)
    return int(ctx.library.create_label_set(name, labels).id)


@pytest.mark.parametrize(
    ("set_name", "labels", "attr", "names"),
    [
        ("colours", COLOUR_LABELS, "color", list(COLORS)),
        ("shapes", SHAPE_LABELS, "shape", list(SHAPES)),
    ],
)
def test_colour_and_shape_sets_reach_map_09(
    tag_ctx: Any,
    shapes_photos: Shapes,
    set_name: str,
    labels: list[LabelDef],
    attr: str,
    names: list[str],
) -> None:
    set_id = _new_set(tag_ctx, set_name, labels)
    run = tag_ctx.tagger.retag(set_id)
    assert run.state == "done" and run.photos == len(shapes_photos)
    ids, z, got_names = tag_ctx.tagger.score_matrix(set_id)
    assert got_names == names
    truth = truth_matrix(tag_ctx, ids, shapes_photos, attr, names)
    assert _map(truth, z) >= 0.9
    # the stored tags (calibrated threshold) are mostly right and find most photos
    tagged = {
        (pid, lab)
        for pid in ids
        for s, lab, _ in tag_ctx.library.photo_tags(int(pid))
        if s == set_name
    }
    hits = sum(truth[list(ids).index(pid), names.index(lab)] for pid, lab in tagged)
    assert hits / max(len(tagged), 1) >= 0.6 and hits / truth.sum() >= 0.6


def test_few_shot_examples_fix_an_ambiguous_label(tag_ctx: Any, shapes_photos: Shapes) -> None:
    """'ball' is not in the toy vocabulary: text alone misses circles; four examples fix it."""
    ids = np.asarray([p.id for p in tag_ctx.library.list_photos(limit=500)], dtype=np.int64)
    circles = truth_matrix(tag_ctx, ids, shapes_photos, "shape", ["circle"])
    text_only = _new_set(tag_ctx, "ball-text", [LabelDef("ball")])
    ids_t, z_t, _ = tag_ctx.tagger.score_matrix(text_only)
    examples = tuple(int(i) for i in ids[circles[:, 0]][:4])
    few_shot = _new_set(tag_ctx, "ball-few-shot", [LabelDef("ball", examples=examples)])
    ids_f, z_f, _ = tag_ctx.tagger.score_matrix(few_shot)
    truth_t = truth_matrix(tag_ctx, ids_t, shapes_photos, "shape", ["circle"])
    truth_f = truth_matrix(tag_ctx, ids_f, shapes_photos, "shape", ["circle"])
    ap_text, ap_few = _map(truth_t, z_t), _map(truth_f, z_f)
    assert ap_text < 0.6, ap_text
    assert ap_few >= 0.75 and ap_few > ap_text + 0.4, (ap_text, ap_few)


def test_retag_after_label_change_encodes_no_image(
    tag_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_id = _new_set(tag_ctx, "retag", COLOUR_LABELS[:2])
    calls: list[int] = []
    real = tag_ctx.encoder.encode_pixels

    def counting(x: np.ndarray) -> np.ndarray:  # a spy: counts, then runs the real encoder
        calls.append(len(x))
        return np.asarray(real(x))

    monkeypatch.setattr(tag_ctx.encoder, "encode_pixels", counting)
    tag_ctx.tagger.retag(set_id)
    tag_ctx.library.replace_labels(set_id, COLOUR_LABELS[:3])
    run = tag_ctx.tagger.retag(set_id)
    assert run.labels == 3 and calls == []
    assert tag_ctx.library.get_label_set(set_id).is_current


def test_a_set_deleted_while_tagging_loses_nothing_else(tag_ctx: Any) -> None:
    keep = _new_set(tag_ctx, "keep", COLOUR_LABELS)
    tag_ctx.tagger.retag(keep)
    before = tag_ctx.library.get_label_set(keep)
    doomed = _new_set(tag_ctx, "doomed", SHAPE_LABELS)

    def delete_midway(done: int, total: int) -> None:
        tag_ctx.library.delete_label_set(doomed)

    with pytest.raises(LabelConflictError, match="deleted while it was being tagged"):
        tag_ctx.tagger.retag(doomed, on_chunk=delete_midway)
    after = tag_ctx.library.get_label_set(keep)
    assert [lab.count for lab in after.labels] == [lab.count for lab in before.labels]
    assert sum(lab.count for lab in after.labels) > 0
    assert tag_ctx.library.find_label_set("doomed") is None


def test_an_edit_during_tagging_is_reported_and_picked_up_next_run(tag_ctx: Any) -> None:
    set_id = _new_set(tag_ctx, "edited", COLOUR_LABELS[:2])
    with pytest.raises(LabelConflictError, match="edited while"):
        tag_ctx.tagger.retag(
            set_id, on_chunk=lambda d, t: tag_ctx.library.replace_labels(set_id, COLOUR_LABELS[:3])
        )
    runs = {r.set_name: r for r in tag_ctx.tagger.retag_stale()}
    assert runs["edited"].state == "done" and runs["edited"].labels == 3
    assert "edited" not in {r.set_name for r in tag_ctx.tagger.retag_stale()}  # now fresh


def test_bad_definitions_store_nothing(tag_ctx: Any) -> None:
    from edge_app.tags.labels import MAX_LABELS, parse_labels

    with pytest.raises(LabelError, match="label 2 has an empty name"):
        parse_labels(["dent", "  "])
    with pytest.raises(LabelError, match="both named 'Dent'"):
        parse_labels(["scratch", "dent", "Dent"])
    with pytest.raises(LabelError, match=f"more than the {MAX_LABELS}"):
        parse_labels([f"label {i}" for i in range(5000)])
    assert len(parse_labels([f"label {i}" for i in range(MAX_LABELS)])) == MAX_LABELS
    sets_before = tag_ctx.library.list_label_sets()
    _new_set(tag_ctx, "dupe", COLOUR_LABELS[:1])
    with pytest.raises(LabelConflictError, match="already exists"):
        tag_ctx.library.create_label_set("DUPE", COLOUR_LABELS)
    with pytest.raises(NotFoundError, match="example photos"):
        tag_ctx.library.create_label_set("bad-examples", [LabelDef("x", examples=(999_999,))])
    with pytest.raises(LabelConflictError, match="appears twice"):
        tag_ctx.library.create_label_set("twice", [LabelDef("a"), LabelDef("A")])
    names = {s.name for s in tag_ctx.library.list_label_sets()}
    assert names == {s.name for s in sets_before} | {"dupe"}


def test_a_thousand_labels_tag_in_one_pass(tag_ctx: Any) -> None:
    labels = [
        LabelDef(f"{c} thing {i}", (f"a {c} {SHAPES[i % 4]}",))
        for i in range(250)
        for c in COLORS[:4]
    ]
    set_id = _new_set(tag_ctx, "many", labels)
    run = tag_ctx.tagger.retag(set_id)
    assert run.state == "done" and run.labels == 1000
