"""`toy-shapes-bilingual`: the toy shapes model searchable in English *and* Chinese.

A transformers `ChineseCLIPModel` (BERT text tower, Chinese-CLIP's real WordPiece
vocabulary from the `cn-clip` wheel, [CLS] pooling), so it takes exactly the export and
runtime path of a real Chinese-CLIP checkpoint. The image tower is the committed
`toy-shapes` image tower, frozen (the two ViTs are the same classes and shapes); only
the text tower is trained, against fixed image embeddings, on English + simplified and
traditional Chinese captions ("a red circle" / "红色的圆形" / "紅色的圓形"), 160 sampled
captions per step. The English toy is left untouched. Training (300 steps) took 18 s of
wall time on 2 threads of a shared 2-core box (two runs wrote byte-identical files);
held-out text->image R@1 of the committed checkpoint: en 0.94, zh 0.94, zh-hant 0.94
(`toy_bilingual.json`).

Reproduce the committed checkpoint (deterministic: fixed seeds, fixed step count)::

    .venv/bin/python -m build_engines.models.toy_bilingual --out build_engines/models/data

Like `toy-shapes`, only the token rows the captions use are stored; the other rows of the
21128-row table are recreated at load from a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import ChineseCLIPConfig, ChineseCLIPModel

from build_engines import shapes
from build_engines.models import chinese_clip, toy_checkpoint, toy_shapes
from build_engines.models.base import LoadedClip
from engines.manifest import ModelInfo
from engines.preprocess import ImagePreprocessor

log = logging.getLogger(__name__)

DATA_DIR = toy_shapes.DATA_DIR
WEIGHTS_NAME = "toy_bilingual.safetensors"
CONFIG_NAME = "toy_bilingual.json"
TOKEN_KEY = "text_model.embeddings.word_embeddings.weight"
CONTEXT_LENGTH = 32
UNTRAINED_ROWS_SEED = 21127
LANGUAGES = ("en", "zh", "zh-hant")
INFO = ModelInfo(
    id="toy-shapes-bilingual",
    source="builtin:toy-shapes-bilingual",
    family="builtin",
    note="synthetic test model (English + Chinese): understands coloured shapes only",
)


@dataclass(frozen=True)
class BilingualConfig:
    """Everything that shapes the text tower besides the seed (saved in the JSON)."""

    steps: int = 300
    batch: int = 256
    captions: int = 160  # captions per step, sampled: a quarter of them costs a quarter
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 30
    n_images: int = 1200
    width: int = 64
    layers: int = 2
    heads: int = 2
    scale: float = 30.0


def model_config(cfg: BilingualConfig, vision: dict[str, Any]) -> ChineseCLIPConfig:
    """Small BERT text tower + the toy's vision config, projection to the toy's 64 dims."""
    text = {
        "vocab_size": chinese_clip.CN_VOCAB_SIZE,
        "hidden_size": cfg.width,
        "intermediate_size": 4 * cfg.width,
        "num_hidden_layers": cfg.layers,
        "num_attention_heads": cfg.heads,
        "max_position_embeddings": CONTEXT_LENGTH,
        "pad_token_id": 0,
    }
    return ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=64)


def _with_toy_vision(cfg: BilingualConfig, seed: int) -> ChineseCLIPModel:
    """Seeded text tower; vision tower and projection copied from the committed toy."""
    toy: Any = toy_shapes.load().model.clip
    vision = toy.config.vision_config.to_dict()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ChineseCLIPModel(model_config(cfg, vision))
    model.vision_model.load_state_dict(toy.vision_model.state_dict())
    model.visual_projection.load_state_dict(toy.visual_projection.state_dict())
    gen = torch.Generator().manual_seed(UNTRAINED_ROWS_SEED)
    table = torch.randn(chinese_clip.CN_VOCAB_SIZE, cfg.width, generator=gen) * 0.02
    with torch.no_grad():
        model.text_model.embeddings.word_embeddings.weight.copy_(table)
    return model.eval()


def _wrap(model: ChineseCLIPModel) -> LoadedClip:
    return chinese_clip.wrap(
        model, INFO, None, image=toy_shapes.image_spec(toy_shapes.TrainConfig())
    )


def _text_state(model: ChineseCLIPModel) -> dict[str, torch.Tensor]:
    state = {f"text_model.{k}": v for k, v in model.text_model.state_dict().items()}
    state.update({f"text_projection.{k}": v for k, v in model.text_projection.state_dict().items()})
    return state


def save_checkpoint(
    model: ChineseCLIPModel, cfg: BilingualConfig, out: Path, rows: list[int], extra: dict[str, Any]
) -> Path:
    """fp16 text tower without the untrained token rows + a JSON describing it."""
    meta = {"train": asdict(cfg), "context_length": CONTEXT_LENGTH, **extra}
    files = (out / WEIGHTS_NAME, out / CONFIG_NAME)
    return toy_checkpoint.write_sparse(dict(_text_state(model)), TOKEN_KEY, rows, files, meta)


def load(path: Path | None = None) -> LoadedClip:
    """The committed text tower (or one written by `train`) on the toy's image tower."""
    folder = DATA_DIR if path is None else Path(path)
    meta, state = toy_checkpoint.read(
        (folder / WEIGHTS_NAME, folder / CONFIG_NAME),
        "toy-shapes-bilingual",
        "edge-build train-toy --bilingual",
    )
    cfg = BilingualConfig(**meta["train"])
    model = _with_toy_vision(cfg, int(meta["seed"]))
    table = model.text_model.embeddings.word_embeddings.weight.detach().clone()
    table[state.pop("token_rows.ids")] = state.pop("token_rows.values").float()
    state[TOKEN_KEY] = table
    merged = {**model.state_dict(), **{k: v.float() for k, v in state.items()}}
    model.load_state_dict(merged, strict=True)
    return _wrap(model.eval())


def captions() -> tuple[list[str], list[int], list[int]]:
    """Every training phrasing in every language: (texts, label index, background or -1)."""
    texts: list[str] = []
    labels: list[int] = []
    bgs: list[int] = []
    for li, (shape, color) in enumerate(shapes.iter_labels()):
        for bi, bg in enumerate(shapes.BACKGROUNDS):
            spec = shapes.ShapeSpec(shape, color, bg)
            for variants in _variants(spec):
                texts.append(variants[0])
                labels.append(li)
                bgs.append(bi)
                if bi == 0:
                    texts.extend(variants[1:])
                    labels.extend([li] * (len(variants) - 1))
                    bgs.extend([-1] * (len(variants) - 1))
    return texts, labels, bgs


def _variants(spec: shapes.ShapeSpec) -> list[tuple[str, ...]]:
    return [
        shapes.caption_variants(spec),
        shapes.caption_variants_zh(spec),
        shapes.caption_variants_zh(spec, traditional=True),
    ]


@torch.no_grad()
def _image_targets(
    loaded: LoadedClip, cfg: BilingualConfig, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fixed (frozen-tower) embeddings of rendered training images, with their labels."""
    specs = shapes.random_specs(cfg.n_images, seed)
    pre = ImagePreprocessor(loaded.image)
    rng = np.random.default_rng(seed)
    imgs = []
    for spec in specs:
        side = int(rng.choice([96, 128, 192, 256]))
        imgs.append(shapes.render(spec, (side, side)))
    embeds = torch.cat(
        [
            loaded.model.image_embeds(torch.from_numpy(pre.batch(imgs[i : i + 200])))
            for i in range(0, len(imgs), 200)
        ]
    )
    index = {lab: i for i, lab in enumerate(shapes.iter_labels())}
    labels = torch.tensor([index[s.label] for s in specs])
    bgs = torch.tensor([shapes.BACKGROUNDS.index(s.background) for s in specs])
    return embeds, labels, bgs


def _lr(step: int, cfg: BilingualConfig) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _fit(loaded: LoadedClip, model: ChineseCLIPModel, cfg: BilingualConfig, seed: int) -> float:
    """Contrastive training of the text tower only; returns the mean loss of the last steps."""
    img, img_label, img_bg = _image_targets(loaded, cfg, seed)
    texts, labels, bgs = captions()
    ids = torch.from_numpy(loaded.tokenizer.runtime(CONTEXT_LENGTH)(texts))
    ids = ids[:, : int((ids != 0).sum(1).max())]  # padding is masked: trimming is exact
    cap_label, cap_bg = torch.tensor(labels), torch.tensor(bgs)
    towers = loaded.model
    params = [
        p for n, p in model.named_parameters() if n.startswith(("text_model", "text_projection"))
    ]
    for p in model.vision_model.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(
        params, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=cfg.weight_decay
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr(s, cfg))
    gen = torch.Generator().manual_seed(seed)
    model.train()
    recent: list[float] = []
    for step in range(cfg.steps):
        idx = torch.randint(0, len(img), (cfg.batch,), generator=gen)
        cap = torch.randperm(len(ids), generator=gen)[: cfg.captions]
        txt = towers.text_embeds(ids[cap])
        positive = (img_label[idx][:, None] == cap_label[cap][None]) & (
            (cap_bg[cap][None] < 0) | (img_bg[idx][:, None] == cap_bg[cap][None])
        )
        rows = positive.any(1)  # images whose label no sampled caption names sit out
        scale = torch.tensor(cfg.scale)
        loss = toy_shapes.contrastive_loss(img[idx][rows], txt, positive[rows], scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        recent = [*recent[-49:], float(loss.detach())]
        if step % 100 == 0:
            log.info("step %d loss %.4f", step, recent[-1])
    model.eval()
    return sum(recent) / len(recent)


@torch.no_grad()
def evaluate(
    loaded: LoadedClip, seed: int = toy_shapes.EVAL_SEED, galleries: int = 10
) -> dict[str, float]:
    """Held-out text->image R@1 per language (galleries with every shape/colour once)."""
    pre = ImagePreprocessor(loaded.image)
    tok = loaded.tokenizer.runtime(loaded.context_length)
    labels = list(shapes.iter_labels())
    specs = [shapes.ShapeSpec(s, c, "white") for s, c in labels]
    queries = {
        "en": [shapes.short_caption(s) for s in specs],
        "zh": [shapes.short_caption_zh(s) for s in specs],
        "zh-hant": [shapes.short_caption_zh(s, traditional=True) for s in specs],
    }
    txt = {k: loaded.model.text_embeds(torch.from_numpy(tok(q))) for k, q in queries.items()}
    hits = dict.fromkeys(queries, 0.0)
    for g in range(galleries):
        gallery = shapes.gallery_specs(seed + g)
        pixels = torch.from_numpy(pre.batch([shapes.render(s, (256, 256)) for s in gallery]))
        img = loaded.model.image_embeds(pixels)
        for lang, t in txt.items():
            hits[lang] += float(((t @ img.T).argmax(1) == torch.arange(len(labels))).float().mean())
    return {f"t2i_r1.{k}": v / galleries for k, v in hits.items()}


def train(out: Path, seed: int = 0, config: BilingualConfig | None = None) -> dict[str, float]:
    """Train the text tower on 2 CPU threads, save it to `out`, return held-out R@1."""
    cfg = config or BilingualConfig()
    start = time.monotonic()
    torch.set_num_threads(2)
    model = _with_toy_vision(cfg, seed)
    loaded = _wrap(model)
    with torch.random.fork_rng(devices=[]):  # BERT dropout draws from the global RNG
        torch.manual_seed(seed)
        final_loss = _fit(loaded, model, cfg, seed)
    ids = loaded.tokenizer.runtime(CONTEXT_LENGTH)(captions()[0])
    rows = sorted({int(t) for t in np.unique(ids)})
    seconds = time.monotonic() - start
    save_checkpoint(model, cfg, Path(out), rows, {"seed": seed, "token_rows": rows})
    metrics = evaluate(load(Path(out)))
    meta_path = Path(out) / CONFIG_NAME
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["heldout"] = {k: round(v, 4) for k, v in metrics.items()}
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", "utf-8")
    return {**metrics, "final_loss": final_loss, "seconds": seconds}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the bilingual toy-shapes text tower.")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(json.dumps(train(args.out, args.seed), indent=2, sort_keys=True))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
