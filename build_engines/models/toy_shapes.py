"""`toy-shapes`: a small CLIP trained on `build_engines.shapes`, committed as a checkpoint.

A real transformers `CLIPModel` (small config, the real 49408-token BPE vocabulary, EOT
pooling) so it takes exactly the export path of a downloaded checkpoint, and tests can check
that search *means* something: "a red circle" finds red circles only if channel order,
normalisation, tokenisation and pooling are right from builder to runtime. Training uses the
runtime's own `ImagePreprocessor` and `ClipTokenizer`, so train and serve agree.

Reproduce the committed checkpoint (2 CPU threads, 2000 fixed steps, about 4.5 minutes on an
idle 2-core box; `--max-seconds` only cuts a slow run short, and a cut run no longer
reproduces the checkpoint)::

    nice -n 10 .venv/bin/python -m build_engines.models.toy_shapes \
        --out build_engines/models/data --seed 0 --max-seconds 290

The token table has 49408 rows but the captions use about twenty, so the checkpoint stores
only the rows of tokens seen in training (+SOT/EOT). Every other row is never trained (no
gradient, no weight decay) and is recreated at load from a fixed seed, bit-identical.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel

from build_engines import shapes
from build_engines.models import toy_checkpoint
from build_engines.models.base import OPENAI_MEAN, OPENAI_STD, VOCAB_SIZE, LoadedClip
from build_engines.models.hf_clip import wrap_hf_clip
from build_engines.vocab import vocab_path
from engines.manifest import ImageSpec, ModelInfo
from engines.preprocess import ImagePreprocessor
from engines.tokenizer import ClipTokenizer

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
WEIGHTS_NAME = "toy_shapes.safetensors"
CONFIG_NAME = "toy_shapes.json"
TOKEN_KEY = "text_model.embeddings.token_embedding.weight"
CONTEXT_LENGTH = 32  # captions are < 12 tokens; shorter context = smaller, faster text tower
UNTRAINED_ROWS_SEED = 49407
EVAL_SEED = 1_000_003  # held-out galleries: far from any training seed
INFO = ModelInfo(
    id="toy-shapes",
    source="builtin:toy-shapes",
    family="builtin",
    note="synthetic test model: understands coloured shapes only, not real photos",
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes the checkpoint besides the seed (saved in the JSON)."""

    steps: int = 2000
    batch: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup: int = 150
    n_train: int = 6000
    render_sizes: tuple[int, ...] = (96, 128, 128, 192)
    jpeg_fraction: float = 0.5
    width: int = 64
    vision_layers: int = 2
    text_layers: int = 2
    heads: int = 2
    patch: int = 8  # 48 px / 8 = 6x6 patches: the cheapest grid that still tells shapes apart
    projection: int = 64
    eval_galleries: int = 10
    image_size: int = 48
    init_scale: float = 30.0  # few classes: a sharper start than CLIP's 1/0.07 trains faster


def toy_config(cfg: TrainConfig) -> CLIPConfig:
    """A small CLIP with the real vocabulary and special tokens (EOT pooled, pad 0)."""
    text = {
        "vocab_size": VOCAB_SIZE,
        "max_position_embeddings": CONTEXT_LENGTH,
        "hidden_size": cfg.width,
        "intermediate_size": 4 * cfg.width,
        "num_hidden_layers": cfg.text_layers,
        "num_attention_heads": cfg.heads,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "pad_token_id": 0,
    }
    vision = {
        "image_size": cfg.image_size,
        "patch_size": cfg.patch,
        "hidden_size": cfg.width,
        "intermediate_size": 4 * cfg.width,
        "num_hidden_layers": cfg.vision_layers,
        "num_attention_heads": cfg.heads,
    }
    return CLIPConfig(
        text_config=text,
        vision_config=vision,
        projection_dim=cfg.projection,
        logit_scale_init_value=math.log(cfg.init_scale),
    )


def image_spec(cfg: TrainConfig) -> ImageSpec:
    """OpenAI CLIP mean/std, shortest-side bicubic resize + centre crop (the runtime default)."""
    return ImageSpec(size=cfg.image_size, mean=OPENAI_MEAN, std=OPENAI_STD)


def untrained_embedding(width: int) -> torch.Tensor:
    """The token table every run starts from; rows no caption uses keep these values."""
    gen = torch.Generator().manual_seed(UNTRAINED_ROWS_SEED)
    return torch.randn(VOCAB_SIZE, width, generator=gen) * 0.02


def build_model(cfg: TrainConfig, seed: int) -> CLIPModel:
    """Seeded init (global RNG untouched) with the fixed token table."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(toy_config(cfg))
    with torch.no_grad():
        model.text_model.embeddings.token_embedding.weight.copy_(untrained_embedding(cfg.width))
    return model


def save_checkpoint(model: CLIPModel, cfg: TrainConfig, out: Path, extra: dict[str, Any]) -> Path:
    """fp16 safetensors without the untrained token rows + a JSON describing them."""
    meta = {"train": asdict(cfg), "context_length": CONTEXT_LENGTH, **extra}
    files = (out / WEIGHTS_NAME, out / CONFIG_NAME)
    return toy_checkpoint.write_sparse(
        dict(model.state_dict()), TOKEN_KEY, list(extra["token_rows"]), files, meta
    )


def load(path: Path | None = None) -> LoadedClip:
    """The committed checkpoint (or one written by `train`) as a `LoadedClip`."""
    folder = DATA_DIR if path is None else Path(path)
    meta, state = toy_checkpoint.read(
        (folder / WEIGHTS_NAME, folder / CONFIG_NAME),
        "toy-shapes",
        "python -m build_engines.models.toy_shapes --out DIR",
    )
    train_meta = {k: v for k, v in meta["train"].items() if k in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(**{**train_meta, "render_sizes": tuple(train_meta.get("render_sizes", ()))})
    model = CLIPModel(toy_config(cfg))
    table = untrained_embedding(cfg.width)
    table[state.pop("token_rows.ids")] = state.pop("token_rows.values").float()
    state[TOKEN_KEY] = table
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return wrap_hf_clip(model, INFO, image_spec(cfg), int(meta["context_length"]))


@dataclass
class _Data:
    """Fixed training set: images once preprocessed, every caption tokenised once."""

    pixels: torch.Tensor  # (N, 3, S, S) float16, already normalised like the runtime does
    label: torch.Tensor  # (N,) index into shapes.iter_labels()
    background: torch.Tensor  # (N,) index into shapes.BACKGROUNDS
    tokens: torch.Tensor  # (U, L) int64, trimmed to the longest caption (causal + EOT pool)
    cap_label: torch.Tensor  # (U,)
    cap_background: torch.Tensor  # (U,) -1 where the caption does not name it


def tokenizer(context_length: int = CONTEXT_LENGTH) -> ClipTokenizer:
    """The runtime's tokenizer on the builder's vocabulary file: train and serve agree."""
    return ClipTokenizer(vocab_path(), context_length)


def _caption_table(tok: ClipTokenizer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All training phrasings of every (shape, colour[, background])."""
    texts, labels, bgs = [], [], []
    for li, (shape, color) in enumerate(shapes.iter_labels()):
        for bi, bg in enumerate(shapes.BACKGROUNDS):
            spec = shapes.ShapeSpec(shape, color, bg)
            variants = shapes.caption_variants(spec)
            texts.append(variants[0])
            labels.append(li)
            bgs.append(bi)
            if bi == 0:
                texts.extend(variants[1:])
                labels.extend([li] * (len(variants) - 1))
                bgs.extend([-1] * (len(variants) - 1))
    ids = torch.from_numpy(tok(texts))
    length = int((ids != 0).sum(1).max())
    return ids[:, :length].contiguous(), torch.tensor(labels), torch.tensor(bgs)


def _render_set(cfg: TrainConfig, seed: int) -> _Data:
    """Render once up front (fixed data = reproducible); augmentation happens per step."""
    rng = random.Random(seed + 1)
    specs = shapes.random_specs(cfg.n_train, seed)
    pre = ImagePreprocessor(image_spec(cfg))
    label_index = {lab: i for i, lab in enumerate(shapes.iter_labels())}
    pixels = np.empty((len(specs), 3, cfg.image_size, cfg.image_size), dtype=np.float16)
    for i, spec in enumerate(specs):
        side = rng.choice(cfg.render_sizes)
        img = shapes.render(spec, (side, side))
        pixels[i] = pre(shapes.jpeg_roundtrip(img) if rng.random() < cfg.jpeg_fraction else img)
    tokens, cap_label, cap_bg = _caption_table(tokenizer())
    return _Data(
        pixels=torch.from_numpy(pixels),
        label=torch.tensor([label_index[s.label] for s in specs]),
        background=torch.tensor([shapes.BACKGROUNDS.index(s.background) for s in specs]),
        tokens=tokens,
        cap_label=cap_label,
        cap_background=cap_bg,
    )


def _dihedral(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flips / quarter turns per image: a rotated triangle is still a triangle."""
    out = x.clone()
    ops = torch.randint(0, 8, (x.shape[0],), generator=gen)
    for op in range(1, 8):
        idx = (ops == op).nonzero().flatten()
        if idx.numel():
            y = torch.rot90(x[idx], op % 4, dims=(2, 3))
            out[idx] = torch.flip(y, dims=(3,)) if op >= 4 else y
    return out


def contrastive_loss(
    img: torch.Tensor, txt: torch.Tensor, positive: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric CLIP loss with soft targets: every compatible pair is a positive.

    Plain CLIP loss would punish "a red circle" for matching the other red circles.
    """
    logits = scale * img @ txt.T
    pos = positive.float()
    i2t = -(pos / pos.sum(1, keepdim=True) * F.log_softmax(logits, 1)).sum(1).mean()
    cols = positive.any(0)
    pt, lt = pos.T[cols], logits.T[cols]
    t2i = -(pt / pt.sum(1, keepdim=True) * F.log_softmax(lt, 1)).sum(1).mean()
    return (i2t + t2i) / 2


def _optimizer(model: CLIPModel, cfg: TrainConfig) -> torch.optim.AdamW:
    """No weight decay on embeddings/norms/biases: untrained token rows must stay exact."""
    decay: list[torch.nn.Parameter] = []
    rest: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        no_decay = p.ndim < 2 or "embedding" in name or "norm" in name
        (rest if no_decay else decay).append(p)
    groups: list[dict[str, Any]] = [{"params": decay, "weight_decay": cfg.weight_decay}]
    groups.append({"params": rest})
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.0)


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warmup then cosine to zero, over `cfg.steps` (not wall time: reproducible)."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _step(model: CLIPModel, data: _Data, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Loss of one batch of images against every training caption at once."""
    pixels = _dihedral(data.pixels[idx].float(), gen)
    img = F.normalize(model.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
    txt = F.normalize(model.get_text_features(input_ids=data.tokens).pooler_output, dim=-1)
    label, bg = data.label[idx], data.background[idx]
    positive = (label[:, None] == data.cap_label[None]) & (
        (data.cap_background[None] < 0) | (bg[:, None] == data.cap_background[None])
    )
    return contrastive_loss(img, txt, positive, model.logit_scale.exp().clamp(max=100.0))


def _fit(
    model: CLIPModel, data: _Data, cfg: TrainConfig, seed: int, deadline: float
) -> dict[str, float]:
    """AdamW with warmup + cosine over a fixed step count; stops early at `deadline`."""
    opt = _optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.label), generator=gen)
    pos, done, loss_sum, recent = 0, 0, 0.0, 0
    model.train()
    for step in range(cfg.steps):
        if time.monotonic() > deadline:
            break
        if pos + cfg.batch > len(order):
            order, pos = torch.randperm(len(data.label), generator=gen), 0
        loss = _step(model, data, order[pos : pos + cfg.batch], gen)
        pos += cfg.batch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        done = step + 1
        value = float(loss.detach())
        if step >= cfg.steps - 50:
            loss_sum, recent = loss_sum + value, recent + 1
        if step % 200 == 0:
            log.info("step %d loss %.4f (%.0f s left)", step, value, deadline - time.monotonic())
    model.eval()
    return {"steps": float(done), "final_loss": loss_sum / max(1, recent)}


@torch.no_grad()
def evaluate(
    loaded: LoadedClip, seed: int = EVAL_SEED, galleries: int = 10, size: int = 256
) -> dict[str, float]:
    """Held-out retrieval: galleries with every (shape, colour) exactly once.

    t2i_r1: "a {color} {shape}" must rank its one matching image first among the
    len(SHAPES)*len(COLORS) images; i2t_r1: each image must pick its own caption among
    all of them. Both are averaged over `galleries` freshly seeded galleries.
    """
    pre = ImagePreprocessor(loaded.image)
    tok = tokenizer(loaded.context_length)
    labels = list(shapes.iter_labels())
    queries = [shapes.short_caption(shapes.ShapeSpec(s, c, "white")) for s, c in labels]
    txt = loaded.model.text_embeds(torch.from_numpy(tok(queries)))
    t2i, i2t = 0.0, 0.0
    for g in range(galleries):
        specs = shapes.gallery_specs(seed + g)  # same order as `labels`
        pixels = torch.from_numpy(pre.batch([shapes.render(s, (size, size)) for s in specs]))
        sim = txt @ loaded.model.image_embeds(pixels).T  # (queries, images)
        truth = torch.arange(len(labels))
        t2i += float((sim.argmax(1) == truth).float().mean())
        i2t += float((sim.argmax(0) == truth).float().mean())
    return {"t2i_r1": t2i / galleries, "i2t_r1": i2t / galleries}


def _record_metrics(out: Path, metrics: dict[str, float]) -> None:
    """Keep the held-out R@1 of the saved (fp16) weights next to them."""
    meta = json.loads((out / CONFIG_NAME).read_text("utf-8"))
    meta["heldout"] = {k: round(v, 4) for k, v in metrics.items()}
    (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", "utf-8")


def train(
    out: Path, seed: int, max_seconds: float, config: TrainConfig | None = None
) -> dict[str, float]:
    """Train from scratch on 2 CPU threads, save to `out`, return held-out metrics.

    Deterministic from `seed` as long as all `config.steps` finish before `max_seconds`
    (the budget covers rendering and training; evaluation comes after).
    """
    cfg = config or TrainConfig()
    start = time.monotonic()
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    data = _render_set(cfg, seed)
    render_s = time.monotonic() - start
    model = build_model(cfg, seed)
    fit = _fit(model, data, cfg, seed, start + max_seconds)
    rows = {int(t) for t in data.tokens.unique()} | {49406, 49407}
    train_s = time.monotonic() - start
    extra = {"seed": seed, "token_rows": sorted(rows), "steps_done": int(fit["steps"])}
    weights = save_checkpoint(model, cfg, Path(out), extra)
    metrics = evaluate(load(Path(out)), galleries=cfg.eval_galleries)
    _record_metrics(Path(out), metrics)
    metrics.update(fit, seconds=train_s, render_seconds=render_s)
    metrics["stopped_early"] = float(fit["steps"] < cfg.steps)
    ckpt = (weights, weights.with_suffix(".json"))
    metrics["checkpoint_bytes"] = float(sum(f.stat().st_size for f in ckpt))
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: reproduce the committed checkpoint (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Train the toy-shapes CLIP on synthetic shapes.")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=290.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    metrics = train(args.out, args.seed, args.max_seconds)
    print(json.dumps(metrics, indent=2, sort_keys=True))  # noqa: T201 - CLI output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
