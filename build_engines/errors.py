"""Domain errors of the host-side builder. Messages say what to do next."""


class BuildError(Exception):
    """Base of every error raised by `build_engines`."""


class ModelLoadError(BuildError):
    """The model spec could not be resolved to weights on this machine."""


class ExportError(BuildError):
    """torch -> ONNX export failed or produced a graph that does not run."""


class ParityError(BuildError):
    """An artifact's embeddings drift too far from the PyTorch fp32 reference."""


class ConversionError(BuildError):
    """ONNX -> OpenVINO / TensorRT conversion or quantisation failed."""


class TensorRTUnavailableError(BuildError):
    """TensorRT cannot be imported here: plans must be built on the target GPU."""
