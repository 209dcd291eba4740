"""The PyTorch reference backend: what every artifact's parity is measured against.

numpy in, numpy out, like the runtime's runners, so the benchmark can put it in the
same table and parity compares like with like.
"""

from __future__ import annotations

import numpy as np
import torch

from build_engines.errors import BuildError
from build_engines.models.base import LoadedClip

DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


class TorchEncoder:
    """Both towers of a `LoadedClip` on one device/dtype (a copy when not CPU fp32)."""

    def __init__(self, loaded: LoadedClip, device: str = "cpu", dtype: str = "fp32") -> None:
        if dtype not in DTYPES:
            raise BuildError(f"TorchEncoder dtype {dtype!r}: expected one of {sorted(DTYPES)}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BuildError(f"device {device!r} asked for but torch sees no CUDA GPU: use cpu")
        self.loaded = loaded
        self.device = torch.device(device)
        self.dtype = DTYPES[dtype]
        model = loaded.model
        if (self.device.type, self.dtype) != ("cpu", torch.float32):
            import copy

            model = copy.deepcopy(model)  # keep the fp32 CPU reference intact
        self.model = model.to(device=self.device, dtype=self.dtype).eval()

    @torch.inference_mode()
    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float32 -> (N, D) float32 unit vectors."""
        x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
        out = self.model.image_embeds(x.to(self.device, self.dtype))
        return _to_numpy(out)

    @torch.inference_mode()
    def encode_tokens(self, input_ids: np.ndarray) -> np.ndarray:
        """(N, C) integer ids -> (N, D) float32 unit vectors."""
        x = torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64))
        out = self.model.text_embeds(x.to(self.device))
        return _to_numpy(out)

    def encode(self, tower: str, x: np.ndarray) -> np.ndarray:
        """Dispatch by tower name, as the parity checks need."""
        if tower == "image":
            return self.encode_pixels(x)
        if tower == "text":
            return self.encode_tokens(x)
        raise BuildError(f"unknown tower {tower!r}: expected 'image' or 'text'")


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.float().cpu().numpy(), dtype=np.float32)
