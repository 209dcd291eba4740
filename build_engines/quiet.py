"""Silence the exporter noise we know to be harmless; let everything else through.

torch's ONNX exporter warns about things a user cannot act on and that do not affect the
bundle (the builder never uses torchvision ops; torch's own pytree deprecation inside the
exporter). Each entry below names the exact message, so a new or different warning still
shows: unknown warnings may matter.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: (warning category, message regex) of known-harmless Python warnings.
KNOWN_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    # torch >= 2.9 exporter, from its own use of torch.utils._pytree.
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
)
#: (logger, message regex) of known-harmless log records.
KNOWN_LOG_RECORDS: tuple[tuple[str, str], ...] = (
    # The exporter registers torchvision ops when present; the CLIP towers use none.
    ("torch.onnx._internal.exporter._registration", r"torchvision is not installed"),
)


class _DropKnown(logging.Filter):
    """Drops records whose message matches `pattern` (one filter per logger)."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


@contextmanager
def quiet_known_exporter_noise() -> Iterator[None]:
    """Inside: the known-harmless warnings and log records above are dropped."""
    filters = [(logging.getLogger(name), _DropKnown(rx)) for name, rx in KNOWN_LOG_RECORDS]
    with warnings.catch_warnings():
        for category, message in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        for logger, drop in filters:
            logger.addFilter(drop)
        try:
            yield
        finally:
            for logger, drop in filters:
                logger.removeFilter(drop)
