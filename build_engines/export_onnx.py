"""torch -> ONNX, one file per tower: the source of every other artifact.

Uses torch's dynamo exporter (the maintained path in torch >= 2.9; the TorchScript one is
deprecated). Each tower has one input and one output with a dynamic batch axis, and the
L2 norm is part of the graph so every backend returns unit vectors.

The text tower's sequence axis is dynamic too: CLIP's text transformer is causal and
pools at EOT, so the embedding of ``[SOT, tokens, EOT]`` does not depend on the padding
after it. The runtime cuts the padding off (`engines.clip_encoder.trim_padding`), which
makes a short query ~10x cheaper to encode than the full 77-token context.
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import torch

from build_engines.errors import ExportError
from build_engines.models.base import LoadedClip
from build_engines.quiet import quiet_known_exporter_noise
from engines.manifest import TensorSpec

log = logging.getLogger(__name__)

OPSET = 18
MAX_EXPORT_BATCH = 4096
EXTERNAL_DATA_LIMIT = 2_000_000_000  # protobuf's 2 GB cap on one .onnx file
INPUT_NAMES = {"image": "pixel_values", "text": "input_ids"}
OUTPUT_NAMES = {"image": "image_embeds", "text": "text_embeds"}


def tower_specs(loaded: LoadedClip, tower: str) -> tuple[TensorSpec, TensorSpec]:
    """(input, output) specs of a tower, per the bundle conventions."""
    out = TensorSpec(OUTPUT_NAMES[tower], "float32", (-1, loaded.embedding_dim))
    if tower == "image":
        s = loaded.image.size
        return TensorSpec("pixel_values", "float32", (-1, 3, s, s)), out
    seq = loaded.context_length if loaded.tokenizer.spec.pad_to_context else -1
    return TensorSpec("input_ids", "int64", (-1, seq)), out


def example_input(loaded: LoadedClip, tower: str, batch: int = 2) -> torch.Tensor:
    """A traceable example; text ids end in EOT so the pooling index is realistic."""
    if tower == "image":
        s = loaded.image.size
        return torch.randn(batch, 3, s, s, generator=torch.Generator().manual_seed(0))
    tok = loaded.tokenizer
    ids = torch.full((batch, loaded.context_length), tok.pad, dtype=torch.int64)
    ids[:, 0], ids[:, 1], ids[:, 2] = max(tok.sot, 0), 320, tok.eot
    return ids


def needs_external_data(module: torch.nn.Module) -> bool:
    """Weights over protobuf's limit must go to a side file."""
    size = sum(p.numel() * p.element_size() for p in module.parameters())
    return size > EXTERNAL_DATA_LIMIT


def export_tower(loaded: LoadedClip, tower: str, path: Path) -> list[Path]:
    """Export `tower` to `path`; returns the files written (the .onnx first)."""
    module = loaded.tower(tower)
    inp, out = tower_specs(loaded, tower)
    batch = torch.export.Dim("batch", min=1, max=MAX_EXPORT_BATCH)
    dims = {0: batch}
    if tower == "text" and not loaded.tokenizer.spec.pad_to_context:
        dims[1] = torch.export.Dim("seq", min=2, max=loaded.context_length)
    external = needs_external_data(module)
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s tower of %s to %s", tower, loaded.info.id, path.name)
    try:
        with quiet_known_exporter_noise():
            torch.onnx.export(
                module,
                (example_input(loaded, tower),),
                str(path),
                input_names=[inp.name],
                output_names=[out.name],
                opset_version=OPSET,
                dynamo=True,
                dynamic_shapes=(dims,),
                external_data=external,
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many unrelated types; keep the cause
        raise ExportError(f"torch.onnx.export of the {tower} tower failed: {exc}") from exc
    check_graph(path, inp, out)
    return [path, *_data_files(path)] if external else [path]


def check_graph(path: Path, inp: TensorSpec, out: TensorSpec) -> None:
    """The graph is valid ONNX and has exactly the promised I/O names with a dynamic batch."""
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path.name} is not valid ONNX: {exc}") from exc
    graph = onnx.load(str(path), load_external_data=False).graph
    ins, outs = [i.name for i in graph.input], [o.name for o in graph.output]
    if ins != [inp.name] or outs != [out.name]:
        raise ExportError(
            f"{path.name}: I/O {ins} -> {outs}, expected [{inp.name}] -> [{out.name}]"
        )
    first_dim = graph.input[0].type.tensor_type.shape.dim[0]
    if not first_dim.dim_param:
        raise ExportError(f"{path.name}: batch axis of {inp.name} is fixed, expected dynamic")


def _data_files(path: Path) -> list[Path]:
    """External-data side files the exporter wrote next to `path`."""
    model = onnx.load(str(path), load_external_data=False)
    names = {
        entry.value
        for init in model.graph.initializer
        for entry in init.external_data
        if entry.key == "location"
    }
    return [path.parent / n for n in sorted(names)]
