"""The composition root: the one place that builds and wires the daemon's parts.

CLI commands, the daemon (`edge-app serve`) and the web app all start from
`AppContext.open(settings)`, so every entry point gets the same library writer, the same
FAISS index (repaired from SQLite when its file is stale), the same loaded encoder and
the same `Progress` the web UI polls. Nothing here is created at import time.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edge_app.errors import ConfigError
from edge_app.indexing.pipeline import Indexer, IndexReport
from edge_app.indexing.progress import Progress
from edge_app.indexing.roots import sync_config_roots
from edge_app.library.store import Library
from edge_app.search.index_store import IndexStore
from edge_app.settings import Settings
from engines.closing import Closing

if TYPE_CHECKING:
    from edge_app.search.service import SearchService
    from edge_app.tags.tagger import Tagger
    from engines.batching import BatchPolicy
    from engines.clip_encoder import ClipEncoder

log = logging.getLogger(__name__)

__all__ = ["AppContext", "open_encoder"]


@dataclass
class AppContext(Closing):
    """Everything a running appliance needs; `close()` releases it in reverse order."""

    settings: Settings
    library: Library  # the one writer: only the indexer thread writes through it
    reader: Library  # read-only connection for search and web threads (WAL: never blocked)
    store: IndexStore
    encoder: ClipEncoder
    indexer: Indexer
    search: SearchService
    progress: Progress = field(default_factory=Progress)

    @classmethod
    def open(cls, settings: Settings) -> AppContext:
        """Open library, encoder and index (rebuilding a stale index), then wire them.

        Raises `ConfigError` when no engine bundle is configured, `LibraryError` /
        `VectorIndexError` for storage problems, and `engines.errors.EngineError` when the
        bundle cannot run here (the message lists every backend and why).
        """
        settings.ensure_dirs()
        library = Library(settings.db_path)
        try:
            sync_config_roots(library, settings)  # ConfigError for a bad new root
            encoder = open_encoder(settings)
        except BaseException:
            library.close()
            raise
        try:
            return cls._wire(settings, library, encoder)
        except BaseException:
            encoder.close()
            library.close()
            raise

    @classmethod
    def _wire(cls, settings: Settings, library: Library, encoder: ClipEncoder) -> AppContext:
        from edge_app.search.service import SearchService

        reader = Library.open_reader(settings.db_path)
        # past ann_threshold the IVF's 8-bit scores are re-ranked with the stored vectors
        store = IndexStore(settings.index_dir, settings.ann_threshold, reader.get_embeddings)
        try:
            store.open(library, encoder.bundle_id, encoder.dim)
        except BaseException:
            reader.close()
            raise
        return cls(
            settings=settings,
            library=library,
            reader=reader,
            store=store,
            encoder=encoder,
            indexer=Indexer(settings, library, store, encoder),
            search=SearchService(settings, reader, store, encoder),
        )

    def index_library(
        self,
        paths: Sequence[Path] | None = None,
        stop_event: threading.Event | None = None,
        settle_s: float = 0.0,
    ) -> IndexReport:
        """Run the indexer with the shared `progress` (what the daemon's job calls).

        A pack imported by the USB import unit (another process) is picked up here: the
        vector index is re-opened when the library changed behind its back.
        """
        self.store.refresh(self.library, self.encoder.bundle_id, self.encoder.dim)
        return self.indexer.run(
            paths, progress=self.progress, stop_event=stop_event, settle_s=settle_s
        )

    @functools.cached_property
    def tagger(self) -> Tagger:
        """Zero-shot tagging over stored embeddings (run on the writer's job thread)."""
        from edge_app.tags.tagger import Tagger

        return Tagger(self.settings, self.library, self.encoder)

    def close(self) -> None:
        """Save the index if it is open, then release the encoder and the database."""
        try:
            if self.store.bundle_id is not None:
                self.store.save_current(self.library.index_generation())
        finally:
            self.encoder.close()
            self.reader.close()
            self.library.close()


def open_encoder(settings: Settings) -> ClipEncoder:
    """Load the configured bundle, or explain how to get one."""
    import engines
    from engines.manifest import MANIFEST_NAME

    if not (settings.bundle_dir / MANIFEST_NAME).is_file():
        raise ConfigError(
            f"no engine bundle in {settings.bundle_dir}: build one with "
            "`edge-build export --model /path/to/clip --out DIR` and pass `--bundle DIR` "
            "(or set bundle_dir / EDGE_BUNDLE_DIR); `edge-app demo` builds a toy one"
        )
    encoder = engines.open(settings.bundle_dir, prefer=settings.backend_prefer)
    encoder.use_batching(batch_policy(settings))
    return encoder


def batch_policy(settings: Settings) -> BatchPolicy:
    """The towers' dynamic-batching settings (engines/batching.py)."""
    from engines.batching import BatchPolicy

    return BatchPolicy(
        max_batch=settings.max_batch,
        max_queue_delay_us=settings.max_queue_delay_us,
        queue_size=settings.tower_queue_size,
    )
