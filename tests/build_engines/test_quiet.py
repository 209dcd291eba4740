"""Known-harmless exporter noise is dropped; anything else still reaches the user."""

from __future__ import annotations

import logging
import warnings

import pytest

from build_engines.quiet import quiet_known_exporter_noise

REGISTRATION = "torch.onnx._internal.exporter._registration"


def test_known_warnings_are_dropped_and_unknown_ones_kept() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_known_exporter_noise():
            warnings.warn(
                "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, "
                "TreeSpec) and treespec.is_leaf()` instead.",
                FutureWarning,
                stacklevel=1,
            )
            warnings.warn("a new exporter problem", FutureWarning, stacklevel=1)
            warnings.warn("`isinstance(treespec, LeafSpec)` but a UserWarning", stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "a new exporter problem",
        "`isinstance(treespec, LeafSpec)` but a UserWarning",
    ]


def test_known_log_records_are_dropped_only_inside(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(REGISTRATION)
    with caplog.at_level(logging.WARNING, logger=REGISTRATION):
        with quiet_known_exporter_noise():
            logger.warning("torchvision is not installed. Skipping torchvision::nms")
            logger.warning("could not register aten::foo")
        logger.warning("torchvision is not installed. Skipping torchvision::roi_pool")
    assert [r.getMessage() for r in caplog.records] == [
        "could not register aten::foo",
        "torchvision is not installed. Skipping torchvision::roi_pool",
    ]
    assert logger.filters == []
