"""`edge-build`: export | verify | train-toy | add-ocr | kit | pack. The only place that prints or exits."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from build_engines.errors import BuildError
from build_engines.pack.cli import add_pack_parser, run_pack
from engines.errors import EngineError
from engines.manifest import BatchProfile

if TYPE_CHECKING:
    from build_engines.validate import ParityReport

log = logging.getLogger("edge-build")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _gates(values: Sequence[str]) -> dict[str, float]:
    """--min-parity int8=0.95 (repeatable) -> {"int8": 0.95}."""
    out: dict[str, float] = {}
    for item in values:
        precision, sep, number = item.partition("=")
        try:
            out[precision.strip()] = float(number)
        except ValueError as exc:
            raise BuildError(
                f"--min-parity {item!r}: expected PRECISION=COSINE, e.g. int8=0.95"
            ) from exc
        if not sep:
            raise BuildError(f"--min-parity {item!r}: expected PRECISION=COSINE, e.g. int8=0.95")
    return out


def _batch(value: str) -> BatchProfile:
    try:
        lo, opt, hi = (int(v) for v in value.split(","))
    except ValueError as exc:
        raise BuildError(f"--batch {value!r}: expected MIN,OPT,MAX, e.g. 1,8,64") from exc
    return BatchProfile(lo, opt, hi)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edge-build", description="Build and check CLIP engine bundles."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="export a CLIP model to an engine bundle")
    ex.add_argument(
        "--model",
        required=True,
        help="a built-in (tiny, toy-shapes, toy-shapes-bilingual, vit-b-32-random, "
        "chinese-clip-vit-b-16-random, siglip-base-random, mobileclip-random), a checkpoint DIR, "
        "a Hugging Face id or open_clip:NAME:PRETRAINED",
    )
    ex.add_argument("--out", required=True, type=Path, help="bundle directory to write")
    ex.add_argument(
        "--precision",
        default="fp32",
        type=_csv,
        help="fp32,fp16,int8,int8w (default fp32; int8w = OpenVINO int8 weights)",
    )
    ex.add_argument("--targets", default="onnx,openvino", type=_csv, help="onnx,openvino,tensorrt")
    ex.add_argument(
        "--calib", type=Path, help="folder of photos (+captions.txt) for int8 and parity"
    )
    ex.add_argument("--batch", default="1,8,64", type=_batch, help="MIN,OPT,MAX batch profile")
    ex.add_argument(
        "--min-parity",
        action="append",
        default=[],
        metavar="PRECISION=COSINE",
        help="override a parity gate, e.g. int8=0.95",
    )
    ex.add_argument(
        "--ocr", nargs="?", const="wheel", metavar="DIR",
        help="add the PP-OCR models (default: from the installed wheel of --ocr-models)",
    )  # fmt: skip
    _ocr_models_arg(ex)
    oc = sub.add_parser("add-ocr", help="add PP-OCR text models to an existing bundle")
    oc.add_argument("bundle", type=Path)
    oc.add_argument("--from", dest="source", type=Path, help="folder of PP-OCR .onnx models")
    oc.add_argument("--targets", default="onnx,openvino", type=_csv, help="onnx,openvino")
    oc.add_argument("--precision", default="fp32", type=_csv, help="fp32,fp16 (default fp32)")
    _ocr_models_arg(oc)
    fa = sub.add_parser("add-faces", help="add dlib's face models (People) to a bundle")
    fa.add_argument("bundle", type=Path)
    fa.add_argument("--from", dest="source", type=Path, help="folder of dlib .dat models")
    ve = sub.add_parser("verify", help="re-check checksums and parity of a bundle")
    ve.add_argument("bundle", type=Path)
    ve.add_argument("--model", help="reference model spec (default: the manifest's source)")
    ve.add_argument(
        "--calib", type=Path, help="photos for the agreement re-check (default: shapes)"
    )
    _kit_args(sub.add_parser("kit", help="an offline install kit: wheels + bundle + installer"))
    add_pack_parser(sub)
    tr = sub.add_parser("train-toy", help="train the toy-shapes CLIP checkpoint")
    tr.add_argument(
        "--out", type=Path, default=None, help="checkpoint folder (default: the package's)"
    )
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--max-seconds", type=float, default=600.0)
    tr.add_argument(
        "--bilingual",
        action="store_true",
        help="train the English + Chinese text tower (toy-shapes-bilingual) instead",
    )
    return p


def _kit_args(p: argparse.ArgumentParser) -> None:
    from build_engines.install_kit import DEFAULT_EXTRAS, HOST_PYTHON
    from build_engines.wheelhouse import ARCHES

    p.add_argument("--bundle", required=True, type=Path, help="engine bundle for the box")
    p.add_argument("--out", required=True, type=Path, help="new folder for the kit")
    p.add_argument(
        "--arch", default=",".join(ARCHES), type=_csv, help="box CPUs (default: %(default)s)"
    )
    p.add_argument("--python", default=HOST_PYTHON, help="box's Python (default: %(default)s)")
    p.add_argument("--glibc", default="2.35", help="box's glibc (default: %(default)s)")
    p.add_argument(
        "--extras", default=",".join(DEFAULT_EXTRAS), type=_csv, help="default: %(default)s"
    )


def _kit(args: argparse.Namespace) -> int:
    from build_engines.install_kit import KitSpec, build_kit

    spec = KitSpec(args.bundle, args.out, args.arch, args.python, args.glibc, args.extras)
    kit = build_kit(spec)
    print(f"kit -> {args.out} (bundle {kit['bundle']['id']}, Python {kit['python']})")
    for arch, wheels in kit["wheels"].items():
        print(
            f"  wheels/{arch}: {len(wheels)} wheels, {sum(w['bytes'] for w in wheels) / 1e6:.0f} MB"
        )
    print(f"on the box: sudo {args.out}/install.sh")
    return 0


def _ocr_models_arg(p: argparse.ArgumentParser) -> None:
    from build_engines.ocr_sources import DEFAULT_FAMILY, FAMILIES

    p.add_argument(
        "--ocr-models", choices=sorted(FAMILIES), default=DEFAULT_FAMILY,
        help="PP-OCR family: v6 = PP-OCRv6 small from the rapidocr wheel, "
        f"v4 = PP-OCRv4 from rapidocr-onnxruntime (default {DEFAULT_FAMILY})",
    )  # fmt: skip


def _export(args: argparse.Namespace) -> int:
    from build_engines.api import build_bundle
    from engines.manifest import Manifest

    out = build_bundle(
        args.model,
        args.out,
        targets=args.targets,
        precisions=args.precision,
        calib_dir=args.calib,
        batch=args.batch,
        min_parity=_gates(args.min_parity),
    )
    if args.ocr:
        from build_engines.ocr_models import add_ocr

        folder = None if args.ocr == "wheel" else Path(args.ocr)
        add_ocr(out, folder, args.targets, args.precision, args.ocr_models)
    manifest = Manifest.load(out)
    print(f"bundle {manifest.bundle_id} -> {out}")
    for a in manifest.artifacts:
        p = a.parity
        par = f"min cos {p.min_cosine:.5f} mean {p.mean_cosine:.5f}" if p else "not measured"
        if a.agreement is not None:
            par += f"  top-{a.agreement.k} agreement {a.agreement.overlap:.3f}"
        print(f"  {a.key:32s} {a.primary.path:24s} {par}")
    _print_ocr(manifest)
    return 0


def _print_ocr(manifest: object) -> None:
    ocr = getattr(manifest, "ocr", None)
    if ocr is None:
        return
    print(
        f"OCR: {ocr.family}, {ocr.source} (licence {ocr.license}), detector input {ocr.det_side} px"
    )
    for a in ocr.artifacts:
        p = a.parity
        par = f"min cos {p.min_cosine:.6f} vs {p.reference}" if p else "reference"
        print(f"  {a.key:32s} {a.primary.path:28s} {par}")


def _add_ocr(args: argparse.Namespace) -> int:
    from build_engines.ocr_models import add_ocr
    from engines.manifest import Manifest

    add_ocr(args.bundle, args.source, args.targets, args.precision, args.ocr_models)
    _print_ocr(Manifest.load(args.bundle))
    return 0


def _add_faces(args: argparse.Namespace) -> int:
    from build_engines.face_models import add_faces

    spec = add_faces(args.bundle, args.source)
    print(f"face models: {spec.source}; runtime {spec.runtime}")
    for role, text in sorted(spec.licenses.items()):
        print(f"  {role}: {text}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from build_engines.api import verify_bundle

    reports = verify_bundle(args.bundle, model=args.model, calib_dir=args.calib)
    print(f"checksums OK: {args.bundle}")
    failed = 0
    for r in reports:
        if r.parity is None:
            print(f"  {r.key:32s} SKIPPED  {r.reason}")
            continue
        ok = "OK  " if r.passed else "FAIL"
        failed += not r.passed
        print(
            f"  {r.key:32s} {ok}     min cos {r.parity.min_cosine:.5f} (gate {r.threshold})"
            f"  {_agreement_text(r)}"
        )
    _verify_faces(args.bundle)
    return 1 if failed else 0


def _verify_faces(bundle: Path) -> None:
    """Checksums of the face models the manifest points at (FaceModelError if damaged)."""
    from engines.faces.models import verify_face_models
    from engines.manifest import Manifest

    ref = Manifest.load(bundle).faces
    if ref is not None:
        spec = verify_face_models(bundle / Path(ref).parent)
        print(f"  face models: checksums OK ({spec.source})")


def _agreement_text(r: ParityReport) -> str:
    """Re-measured top-k agreement beside the recorded one (the default-precision gate)."""
    if r.agreement is None:
        return "agreement not measured"
    rec = r.recorded_agreement
    was = f"{rec.overlap:.3f}" if rec is not None else "none recorded"
    bf16 = r.agreement.bf16_overlap
    extra = f", bf16 {bf16:.3f}" if bf16 is not None else ""
    flag = "" if r.agreement_ok else " (fell below the default gate: int8/bf16 must not be default)"
    return f"top-{r.agreement.k} agreement {r.agreement.overlap:.3f}{extra} (recorded {was}){flag}"


def _train_toy(args: argparse.Namespace) -> int:
    from build_engines.models import toy_shapes

    out = args.out if args.out is not None else toy_shapes.DATA_DIR
    if args.bilingual:
        from build_engines.models import toy_bilingual

        metrics = toy_bilingual.train(out, seed=args.seed)
    else:
        metrics = toy_shapes.train(out, seed=args.seed, max_seconds=args.max_seconds)
    for key, value in sorted(metrics.items()):
        print(f"{key}: {value:.4f}")
    return 0


QUIET_LOGGERS = ("onnx_ir", "onnxscript", "torch.onnx", "nncf")
COMMANDS = {
    "export": _export,
    "verify": _verify,
    "train-toy": _train_toy,
    "add-ocr": _add_ocr,
    "kit": _kit,
    "pack": run_pack,
    "add-faces": _add_faces,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in QUIET_LOGGERS:  # per-initializer INFO lines drown the build's progress
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except (BuildError, EngineError) as exc:
        print(f"edge-build: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
