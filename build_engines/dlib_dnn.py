"""A reader for dlib's own serialisation of ONE network: the ResNet face descriptor.

Why a reader of our own: dlib has no exporter, and its ``.dat`` is dlib's binary stream
(dlib/serialize.h, dlib/dnn/core.h, layers.h, input.h, loss.h of the dlib 20.0 sdist), not a
self-describing format. A network is written outside-in: every wrapper writes its version
number and then its sub-network, so all the version numbers come first (outermost first),
then the input layer, then each layer's details from the input outwards. Reading therefore
needs the network's template type, which ``face_descriptor_layout`` spells out exactly as
dlib's ``dnn_face_recognition_ex.cpp`` declares ``anet_type``.

Only what that network uses is read (con_, affine_, relu_, max_pool_, avg_pool_, fc_,
add_prev_, tags, skips, input_rgb_image_sized, loss_metric_); anything else is a
`DlibFormatError` naming the byte offset, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from build_engines.errors import BuildError


class DlibFormatError(BuildError):
    """The file is not the network this reader knows (or is damaged)."""


@dataclass
class DnnLayer:
    """One layer, innermost (input side) first once read. ``kind`` names dlib's class."""

    kind: str  # con, affine, relu, max_pool, avg_pool, fc, add_prev, tag, skip, input
    ref: int = 0  # the tag number of tag / skip / add_prev
    ints: dict[str, int] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def _block(n: int, stride: int) -> list[DnnLayer]:
    """dlib's ``block<N,affine,stride>``: affine(con3x3(relu(affine(con3x3/stride))))."""
    del n, stride  # read back from the file and checked there
    return [
        DnnLayer("affine"),
        DnnLayer("con"),
        DnnLayer("relu"),
        DnnLayer("affine"),
        DnnLayer("con"),
    ]


def _ares(n: int) -> list[DnnLayer]:
    return [DnnLayer("relu"), DnnLayer("add_prev", 1), *_block(n, 1), DnnLayer("tag", 1)]


def _ares_down(n: int) -> list[DnnLayer]:
    return [
        DnnLayer("relu"), DnnLayer("add_prev", 2), DnnLayer("avg_pool"), DnnLayer("skip", 1),
        DnnLayer("tag", 2), *_block(n, 2), DnnLayer("tag", 1),
    ]  # fmt: skip


def face_descriptor_layout() -> list[DnnLayer]:
    """``anet_type`` of dlib_face_recognition_resnet_model_v1, outermost first (loss omitted)."""
    levels = (
        _ares_down(256)
        + _ares(256) + _ares(256) + _ares_down(256)
        + _ares(128) + _ares(128) + _ares_down(128)
        + _ares(64) + _ares(64) + _ares(64) + _ares_down(64)
        + _ares(32) + _ares(32) + _ares(32)
    )  # fmt: skip
    stem = [DnnLayer("max_pool"), DnnLayer("relu"), DnnLayer("affine"), DnnLayer("con")]
    return [DnnLayer("fc"), DnnLayer("avg_pool"), *levels, *stem]


class _Stream:
    """dlib's primitive encodings: packed ints, float_details, '0'/'1' bools, strings."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(f"dlib network file: {what} at byte {self.pos}")

    def integer(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        head = self.data[self.pos]
        size = head & 0x0F
        if size == 0 or size > 8 or head & 0x70:
            raise self.fail(f"bad integer header {head:#x}")
        raw = self.data[self.pos + 1 : self.pos + 1 + size]
        self.pos += 1 + size
        value = int.from_bytes(raw, "little")
        return -value if head & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        return float(mantissa) * 2.0**exponent

    def flag(self) -> bool:
        ch = self.data[self.pos : self.pos + 1]
        if ch not in (b"0", b"1"):
            raise self.fail(f"bad bool {ch!r}")
        self.pos += 1
        return ch == b"1"

    def text(self) -> str:
        n = self.integer()
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("ascii", errors="replace")

    def expect(self, value: int, what: str) -> None:
        got = self.integer()
        if got != value:
            raise self.fail(f"{what}: version {got}, expected {value}")

    def tensor(self) -> np.ndarray:
        self.expect(2, "tensor")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.fail(f"tensor of {shape} runs past the end")
        arr = np.frombuffer(self.data, "<f4", count, self.pos).reshape(shape).astype(np.float32)
        self.pos = end
        return arr

    def alias(self) -> tuple[int, ...]:
        self.expect(1, "alias_tensor")
        return tuple(self.integer() for _ in range(4))


def _details(s: _Stream, layer: DnnLayer) -> None:
    """One layer's own fields (the ``details`` of dlib's add_layer)."""
    name = s.text()
    kind = layer.kind
    if kind == "con" and name in ("con_4", "con_5", "con_6"):
        params = s.tensor()
        filters = s.integer()
        keys = ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
        layer.ints = {"filters": filters, **{k: s.integer() for k in keys}}
        fshape, bshape = s.alias(), s.alias()
        for _ in range(4):
            s.real()  # learning-rate / weight-decay multipliers
        use_bias = s.flag() if name in ("con_5", "con_6") else True
        if name == "con_6":
            s.flag()
        flat = params.reshape(-1)
        n = int(np.prod(fshape))
        layer.arrays["w"] = flat[:n].reshape(fshape)
        layer.arrays["b"] = flat[n : n + bshape[1]] if use_bias else np.zeros(filters, np.float32)
    elif kind == "affine" and name in ("affine_", "affine_2"):
        params = s.tensor().reshape(-1)
        gshape, _ = s.alias(), s.alias()
        layer.ints["mode"] = s.integer()
        if name == "affine_2" and s.flag():
            raise s.fail("a disabled affine layer")
        k = int(np.prod(gshape))
        layer.arrays["gamma"], layer.arrays["beta"] = params[:k], params[k : 2 * k]
    elif kind == "relu" and name in ("relu_", "relu_2"):
        if name == "relu_2" and s.flag():
            raise s.fail("a disabled relu layer")
    elif kind in ("max_pool", "avg_pool") and name == f"{kind}_2":
        keys = ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
        layer.ints = {k: s.integer() for k in keys}
    elif kind == "fc" and name in ("fc_2", "fc_3"):
        layer.ints = {"outputs": s.integer(), "inputs": s.integer()}
        params = s.tensor().reshape(-1)
        wshape, _ = s.alias(), s.alias()
        layer.ints["bias_mode"] = s.integer()
        for _ in range(4):
            s.real()
        use_bias = s.flag() if name == "fc_3" else True
        n = int(np.prod(wshape))
        layer.arrays["w"] = params[:n].reshape(wshape[0], wshape[1])  # (inputs, outputs)
        if layer.ints["bias_mode"] == 0 and use_bias:
            layer.arrays["b"] = params[n : n + layer.ints["outputs"]]
    elif kind == "add_prev" and name == "add_prev_":
        pass
    else:
        raise s.fail(f"expected a {kind} layer, found {name!r}")


def _trailer(s: _Stream, input_layer: bool, version: int) -> None:
    """add_layer's bookkeeping after the details (flags and empty gradient tensors)."""
    for _ in range(3):
        s.flag()
    s.tensor()  # x_grad
    s.tensor()  # cached_output
    if input_layer or version == 2:
        s.tensor()  # grad_final / params_grad
    if input_layer and version >= 3:
        s.integer()  # _sample_expansion_factor


def read_face_descriptor(path: Path) -> tuple[list[DnnLayer], tuple[float, float, float]]:
    """Layers input side first, and the input's (red, green, blue) means."""
    s = _Stream(Path(path).read_bytes())
    s.expect(1, "add_loss_layer")
    loss = s.text()
    if loss == "loss_metric_2":
        s.real(), s.real()
    elif loss != "loss_metric_":
        raise s.fail(f"expected loss_metric_, found {loss!r}")
    layout = face_descriptor_layout()  # its innermost con holds the input layer
    versions = []
    for n, layer in enumerate(layout):
        v = s.integer()
        ok = v == 1 if layer.kind in ("tag", "skip") else v in (1, 2)
        ok = v in (2, 3) if n == len(layout) - 1 else ok
        if not ok:
            raise s.fail(f"{layer.kind}: unexpected version {v}")
        versions.append(v)
    name = s.text()
    if name != "input_rgb_image_sized":
        raise s.fail(f"expected input_rgb_image_sized, found {name!r}")
    means = (s.real(), s.real(), s.real())
    size = (s.integer(), s.integer())
    if size != (150, 150):
        raise s.fail(f"input size {size}, expected 150x150")
    for n, (layer, version) in enumerate(zip(reversed(layout), reversed(versions), strict=True)):
        if layer.kind not in ("tag", "skip"):
            _details(s, layer)
            _trailer(s, n == 0, version)
    if s.pos != len(s.data):
        raise s.fail(f"{len(s.data) - s.pos} bytes left over after the network")
    return list(reversed(layout)), means
