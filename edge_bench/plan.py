"""Which (backend, precision, mode) rows to measure here, and why the others cannot run.

A backend that cannot run on this machine is a row with a reason, never a silent
omission: a reader comparing the NUC and the Jetson reports must see *why* TensorRT
is absent from one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TRT_HINT = "TensorRT runs on the Jetson/NVIDIA hosts; build plans there with `edge-build export --target tensorrt`"


@dataclass(frozen=True)
class Row:
    backend: str
    precision: str
    mode: str = "sync"  # "sync" | "async"
    reason: str | None = None  # None = runnable here
    note: str = ""

    @property
    def key(self) -> str:
        suffix = "" if self.mode == "sync" else f"/{self.mode}"
        return f"{self.backend}/{self.precision}{suffix}"


def runtime_availability(device: str = "cpu") -> dict[str, str | None]:
    """engines.registry's view plus PyTorch; reasons only, nothing loaded."""
    try:
        from engines.registry import availability

        avail = dict(availability())
    except ImportError as exc:
        avail = {
            b: f"engines runtime not importable ({exc})"
            for b in ("onnxruntime", "openvino", "tensorrt")
        }
    if avail.get("tensorrt"):
        avail["tensorrt"] = f"not installed ({avail['tensorrt']}); {TRT_HINT}"
    try:
        import importlib.util

        has_torch = importlib.util.find_spec("torch") is not None
    except ValueError:
        has_torch = False
    avail["torch"] = None if has_torch else "torch not installed (pip install '.[build]')"
    if device.startswith("cuda") and avail.get("onnxruntime") is None:
        avail["onnxruntime"] = _ort_cuda_reason()
    return avail


def _ort_cuda_reason() -> str | None:
    """ORT on a GPU host needs the CUDA execution provider (the onnxruntime-gpu wheel)."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    if "CUDAExecutionProvider" in have:
        return None
    return f"onnxruntime here has no CUDAExecutionProvider ({', '.join(have)}): install onnxruntime-gpu"


def bundle_precisions(bundle: Path | None, backend: str) -> set[str]:
    """Precisions with both towers present in the bundle for `backend`."""
    if bundle is None or not (bundle / "manifest.json").is_file():
        return set()
    from engines.manifest import Manifest

    m = Manifest.load(bundle)
    per_tower = [
        {a.precision for a in m.artifacts_for(t) if a.backend == backend} for t in ("image", "text")
    ]
    return per_tower[0] & per_tower[1]


def _torch_row(precision: str, device: str) -> Row:
    ok = {"cpu": ("fp32",), "cuda": ("fp32", "fp16")}.get(device.split(":")[0], ("fp32",))
    if precision in ok:
        return Row("torch", precision)
    return Row(
        "torch",
        precision,
        reason=f"the PyTorch reference runs {'/'.join(ok)} on {device} (TorchEncoder dtypes)",
    )


def _artifact_row(backend: str, precision: str, have: set[str], bf16_native: bool) -> Row:
    """OpenVINO bf16 = fp32 IR + hint; everything else needs its own artifact."""
    needed = "fp32" if (backend, precision) == ("openvino", "bf16") else precision
    if backend == "onnxruntime" and needed != "fp32" and needed not in have:
        return Row(
            backend,
            precision,
            reason="the builder exports ONNX fp32 only (fp16/int8 come from OpenVINO/TensorRT)",
        )
    if needed not in have:
        return Row(
            backend,
            precision,
            reason=f"bundle has no {backend} {needed} artifact (rebuild with --precision {needed})",
        )
    note = ""
    if backend == "openvino" and precision == "bf16" and not bf16_native:
        note = "CPU lacks native BF16 (no AVX512-BF16/AMX): OpenVINO ignores the hint and runs f32"
    return Row(backend, precision, note=note)


def plan_rows(
    backends: tuple[str, ...],
    precisions: tuple[str, ...],
    bundle: Path | None,
    device: str,
    with_async: bool,
    avail: dict[str, str | None],
    bf16_native: bool,
) -> list[Row]:
    """The full grid: runnable rows first per backend, each unavailable one with a reason."""
    rows: list[Row] = [_torch_row("fp32", device)]  # the reference is always measured
    for backend in backends:
        if avail.get(backend, f"unknown backend {backend!r}") is not None:
            rows.append(
                Row(backend, "*", reason=avail.get(backend) or f"unknown backend {backend!r}")
            )
            continue
        if backend == "torch":
            rows += [_torch_row(p, device) for p in precisions if p != "fp32"]
            continue
        if bundle is None:
            rows.append(
                Row(backend, "*", reason="no engine bundle given (--bundle/--model on a CPU host)")
            )
            continue
        have = bundle_precisions(bundle, backend)
        for precision in precisions:
            row = _artifact_row(backend, precision, have, bf16_native)
            rows.append(row)
            if with_async and backend == "openvino" and row.reason is None and device == "cpu":
                rows.append(Row(backend, precision, mode="async", note=row.note))
    return rows
