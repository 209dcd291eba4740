"""Domain errors of the runtime side. Messages say what to do next."""


class EngineError(Exception):
    """Base of every error raised by `engines`."""


class BundleError(EngineError):
    """The bundle on disk is missing, damaged or was built for something else."""


class BundleSchemaError(BundleError):
    """The manifest's schema is newer (or malformed) than this runtime understands."""


class ChecksumError(BundleError):
    """A bundle file does not match the sha256 in its manifest."""


class IncompatibleArtifactError(BundleError):
    """An artifact was built for another runtime version or GPU: it must be rebuilt."""


class BackendUnavailableError(EngineError):
    """No artifact in the bundle can run on this machine (missing runtime, device...)."""


class InputSpecError(EngineError):
    """An input tensor has the wrong name, dtype or shape for the artifact."""


class OcrUnavailableError(BundleError):
    """The bundle has no OCR models, or they are missing or damaged (semantic search still works)."""


class EngineBusyError(EngineError):
    """A tower's request queue is full: the caller should retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class FaceModelError(BundleError):
    """The face models are missing, damaged or dlib is not installed (the rest still works)."""
