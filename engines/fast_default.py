"""The default CPU choice: the fastest artifact this CPU runs well whose search agrees.

Used by `engines.open` only when nothing was preferred. int8 comes first where the CPU
has VNNI/AMX (image tower); then int8w (int8 weights, float compute: fp32's speed with a
quarter of its weight memory; never with the bf16 hint, which unpacks them to bf16);
then OpenVINO fp32 with the bf16 hint; then the plain fp32 order of `engines.registry`.
A faster artifact qualifies only when the bundle records a retrieval agreement (top-10
overlap with PyTorch fp32) of at least `MIN_AGREEMENT` for it; every decision is
returned as a sentence for the log.

The text tower takes int8w before int8: it runs single queries, where full int8 is no
faster (batch 1: 8.3-9.0 vs 7.6-10.3 ms for a ViT-B/32 text tower) yet its compiled
model takes 210 MB against int8w's 56 MB (the served daemon: +50-70 MB of RSS at steady;
docs/benchmarks/daemon-100k). The image tower is the bulk encoder, where int8 pays.
"""

from __future__ import annotations

from dataclasses import replace

from engines.cpu_features import CpuFeatures
from engines.manifest import Artifact
from engines.registry import Candidate

MIN_AGREEMENT = 0.95


def _int8_reason(artifact: Artifact, cpu: CpuFeatures, floor: float) -> str | None:
    """Why an int8 artifact is not a default choice, None when it is."""
    if not cpu.int8_fast:
        return f"CPU lacks VNNI/AMX (flags: {cpu.summary()}): int8 gains little here"
    return _agreement_reason(artifact, floor)


def _agreement_reason(artifact: Artifact, floor: float) -> str | None:
    """Why the artifact's recorded retrieval agreement does not qualify, None when it does."""
    if artifact.agreement is None:
        return "no retrieval agreement recorded (rebuild the bundle with this edge-build)"
    if artifact.agreement.overlap < floor:
        return f"retrieval agreement {artifact.agreement.overlap:.3f} < {floor}"
    return None


def _bf16_reason(artifact: Artifact, cpu: CpuFeatures, floor: float) -> str | None:
    """Why OpenVINO fp32 + bf16 hint is not a default choice, None when it is."""
    if not cpu.bf16_fast:
        return f"CPU lacks native BF16 (flags: {cpu.summary()})"
    bf16 = artifact.agreement.bf16_overlap if artifact.agreement else None
    if bf16 is None:
        return "no bf16 retrieval agreement recorded (build on a BF16 machine to measure it)"
    if bf16 < floor:
        return f"bf16 retrieval agreement {bf16:.3f} < {floor}"
    return None


def _int8w_reason(artifact: Artifact, floor: float) -> str | None:
    """Why an int8w artifact is not a default choice (None when it is): its agreement only,
    for float compute; never with the bf16 hint by default.

    Why not bf16: with that hint the CPU plugin unpacks the int8 weights to bf16, twice
    their memory, and memory is what int8w is for. For a ViT-B/32 image tower that is
    +87-95 MB of the served daemon's RSS (600 MB goal) for image searches within 0-15 %
    (docs/benchmarks/daemon-100k), and indexing is decode-bound at int8w's speed anyway
    (docs/benchmarks/index-default). fp32 still takes the hint: there bf16 halves it.
    """
    reason = _agreement_reason(artifact, floor)
    return None if reason is None else f"int8w: {reason}"


def fast_candidates(
    ranked: list[Candidate], cpu: CpuFeatures, floor: float = MIN_AGREEMENT
) -> tuple[list[Candidate], list[str]]:
    """Faster (or smaller) faithful CPU candidates drawn from `ranked`, and the reasons."""
    int8: list[Candidate] = []
    int8w: list[Candidate] = []
    bf16: list[Candidate] = []
    notes: list[str] = []
    for cand in ranked:
        art = cand.artifact
        if cand.options.device != "CPU":
            continue
        if art.precision == "int8":
            reason = _int8_reason(art, cpu, floor)
            int8 += [cand] if reason is None else []
            mode, hinted = "int8", False
        elif art.precision == "int8w" and art.backend == "openvino":
            reason = _int8w_reason(art, floor)
            int8w += [cand] if reason is None else []
            mode, hinted = "int8w", False
        elif art.precision == "fp32" and art.backend == "openvino":
            reason = _bf16_reason(art, cpu, floor)
            bf16 += [replace(cand, options=replace(cand.options, bf16=True))] if not reason else []
            mode, hinted = "bf16 hint", True
        else:
            continue
        notes.append(f"{art.key} ({mode}): " + (reason or _chosen_note(art, cpu, hinted)))
    text = bool(ranked) and ranked[0].artifact.tower == "text"
    return (int8w + int8 if text else int8 + int8w) + bf16, notes


def _chosen_note(artifact: Artifact, cpu: CpuFeatures, bf16: bool) -> str:
    agreement = artifact.agreement
    figure = 0.0
    if agreement is not None:
        figure = (agreement.bf16_overlap or 0.0) if bf16 else agreement.overlap
    return f"eligible default (CPU flags: {cpu.summary()}; retrieval agreement {figure:.3f})"


def with_fast_first(
    ranked: list[Candidate], cpu: CpuFeatures, floor: float = MIN_AGREEMENT
) -> tuple[list[Candidate], list[str]]:
    """`ranked` with the fast faithful CPU candidates moved in front of the CPU ones.

    GPU candidates (TensorRT) keep their place ahead: a GPU beats any CPU precision.
    """
    fast, notes = fast_candidates(ranked, cpu, floor)
    if not fast:
        return ranked, notes
    fast_keys = {c.artifact.key for c in fast if c.artifact.precision in ("int8", "int8w")}
    rest = [c for c in ranked if c.artifact.key not in fast_keys]
    first_cpu = next((i for i, c in enumerate(rest) if c.options.device == "CPU"), len(rest))
    return rest[:first_cpu] + fast + rest[first_cpu:], notes
