"""dlib's ResNet face descriptor as an ONNX graph, with a parity gate against dlib itself.

Why: dlib-bin runs the descriptor single-threaded through its own kernels (~0.08 CPU s per
face on the 2-core box); the same network in ONNX Runtime takes a fraction of that
(docs/benchmarks/faces-cpu/). The weights come from `build_engines.dlib_dnn` (a reader of
dlib's own file); the graph reproduces dlib's arithmetic exactly:

* input: the 150x150 RGB chip as uint8 NHWC; dlib's ``input_rgb_image`` subtracts its
  stored channel means and divides by 256;
* each ``affine`` (frozen batch norm) follows a convolution and is folded into it;
* ``add_prev`` of two tensors of different shapes is dlib's ``tt::add``: the result has the
  larger shape and the missing values count as zero (the downsampling blocks add a 3x3 conv
  output to a 4x4 pooled one, and 2x channels to x channels), so the smaller side is
  zero-padded at the end of each axis;
* ``avg_pool`` with a 0x0 window is ``avg_pool_everything``; ``fc_no_bias`` is a MatMul.

The parity gate compares the two on the same chips (`parity`): the conversion is refused
when any descriptor differs from dlib's by more than ``MAX_DIFF``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from build_engines.dlib_dnn import DnnLayer, read_face_descriptor
from build_engines.errors import BuildError

OPSET = 17
MAX_DIFF = 2e-3  # max |dlib - onnx| per descriptor element (same-person distance ~0.6)


class _Graph:
    """A tiny ONNX graph writer that tracks each tensor's static (C, H, W)."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.n = 0

    def name(self, stem: str) -> str:
        self.n += 1
        return f"{stem}_{self.n}"

    def const(self, stem: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out


def _conv_out(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def _pool(
    g: _Graph, x: str, shape: tuple[int, int, int], layer: DnnLayer
) -> tuple[str, tuple[int, int, int]]:
    c, h, w = shape
    i = layer.ints
    if i["nr"] == 0:  # avg_pool_everything
        return g.op("GlobalAveragePool", [x]), (c, 1, 1)
    pads = [i["pad_y"], i["pad_x"], i["pad_y"], i["pad_x"]]
    op = "MaxPool" if layer.kind == "max_pool" else "AveragePool"
    attrs: dict[str, Any] = {
        "kernel_shape": [i["nr"], i["nc"]],
        "strides": [i["stride_y"], i["stride_x"]],
        "pads": pads,
    }
    if op == "AveragePool" and any(pads):
        raise BuildError(
            "a padded avg_pool is not converted (dlib averages over the window inside the image)"
        )
    out_shape = (
        c,
        _conv_out(h, i["nr"], i["stride_y"], i["pad_y"]),
        _conv_out(w, i["nc"], i["stride_x"], i["pad_x"]),
    )
    return g.op(op, [x], **attrs), out_shape


def _add(
    g: _Graph, a: str, sa: tuple[int, int, int], b: str, sb: tuple[int, int, int]
) -> tuple[str, tuple[int, int, int]]:
    """dlib's tt::add: the larger shape, the smaller tensor zero-padded at the far end."""
    big = (max(sa[0], sb[0]), max(sa[1], sb[1]), max(sa[2], sb[2]))

    def padded(x: str, s: tuple[int, int, int]) -> str:
        if s == big:
            return x
        pads = np.array([0, 0, 0, 0, 0, big[0] - s[0], big[1] - s[1], big[2] - s[2]], np.int64)
        return g.op("Pad", [x, g.const("pads", pads)], mode="constant")

    return g.op("Add", [padded(a, sa), padded(b, sb)]), big


def _conv(
    g: _Graph, x: str, shape: tuple[int, int, int], con: DnnLayer, affine: DnnLayer | None
) -> tuple[str, tuple[int, int, int]]:
    w, b = con.arrays["w"], con.arrays["b"]
    if affine is not None:  # y = gamma * conv(x) + beta, per output channel
        gamma, beta = affine.arrays["gamma"], affine.arrays["beta"]
        w, b = w * gamma[:, None, None, None], b * gamma + beta
    i = con.ints
    out = g.op(
        "Conv", [x, g.const("w", w.astype(np.float32)), g.const("b", b.astype(np.float32))],
        kernel_shape=[i["nr"], i["nc"]], strides=[i["stride_y"], i["stride_x"]],
        pads=[i["pad_y"], i["pad_x"], i["pad_y"], i["pad_x"]],
    )  # fmt: skip
    _, h, wd = shape
    return out, (
        i["filters"],
        _conv_out(h, i["nr"], i["stride_y"], i["pad_y"]),
        _conv_out(wd, i["nc"], i["stride_x"], i["pad_x"]),
    )


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise BuildError(
            "converting the face descriptor needs the `onnx` package: pip install -e '.[build]'"
        ) from exc


def descriptor_model(layers: list[DnnLayer], means: tuple[float, float, float]) -> Any:
    """The ONNX model: ``chips`` uint8 (N,150,150,3) RGB -> ``descriptors`` float32 (N,128)."""
    _require_onnx()
    from onnx import TensorProto, checker, helper

    g = _Graph()
    x = g.op("Cast", ["chips"], to=TensorProto.FLOAT)
    x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    x = g.op("Sub", [x, g.const("mean", np.array(means, np.float32).reshape(1, 3, 1, 1))])
    x = g.op("Mul", [x, g.const("scale", np.array(1 / 256, np.float32))])
    shape = (3, 150, 150)
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}
    k = 0
    while k < len(layers):
        layer = layers[k]
        if layer.kind == "con":
            nxt = layers[k + 1] if k + 1 < len(layers) and layers[k + 1].kind == "affine" else None
            x, shape = _conv(g, x, shape, layer, nxt)
            k += 1 if nxt is not None else 0
        elif layer.kind == "affine":
            raise BuildError("an affine layer that does not follow a convolution is not converted")
        elif layer.kind == "relu":
            x = g.op("Relu", [x])
        elif layer.kind in ("max_pool", "avg_pool"):
            x, shape = _pool(g, x, shape, layer)
        elif layer.kind == "tag":
            tags[layer.ref] = (x, shape)
        elif layer.kind == "skip":
            x, shape = tags[layer.ref]
        elif layer.kind == "add_prev":
            x, shape = _add(g, x, shape, *tags[layer.ref])
        elif layer.kind == "fc":
            x = g.op("Flatten", [x], axis=1)
            x = g.op("MatMul", [x, g.const("fc", layer.arrays["w"])])
            if "b" in layer.arrays:
                x = g.op("Add", [x, g.const("fc_b", layer.arrays["b"])])
        k += 1
    g.nodes[-1].output[0] = "descriptors"
    graph = helper.make_graph(
        g.nodes, "dlib_face_descriptor",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["n", 150, 150, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["n", 128])], g.inits,
    )  # fmt: skip
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edge-build"
    )
    model.ir_version = 8
    checker.check_model(model)
    return model


def convert_descriptor(dat: Path, out: Path) -> Path:
    """Read dlib's ``.dat`` and write the ONNX descriptor to ``out``."""
    _require_onnx()
    import onnx

    layers, means = read_face_descriptor(dat)
    onnx.save(descriptor_model(layers, means), str(out))
    return out


def parity_chips(n: int = 8, seed: int = 0) -> np.ndarray:
    """Deterministic 150x150 test chips: grey, gradients, noise (numerics, not faces)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:150, 0:150]
    chips = [np.full((150, 150, 3), 128, np.uint8)]
    chips.append(
        np.stack([xx * 255 // 149, yy * 255 // 149, (xx + yy) * 255 // 298], -1).astype(np.uint8)
    )
    while len(chips) < n:
        chips.append(rng.integers(0, 256, (150, 150, 3), np.uint8))
    return np.stack(chips)


def parity(reference: np.ndarray, converted: np.ndarray) -> float:
    """Max |difference| between two descriptor batches; `BuildError` above ``MAX_DIFF``."""
    diff = float(np.abs(reference - converted).max())
    if reference.shape != converted.shape or not diff <= MAX_DIFF:
        raise BuildError(
            f"the ONNX face descriptor differs from dlib's by {diff:.2e} (> {MAX_DIFF}): "
            "the conversion is refused (is the .dat another network?)"
        )
    return diff
