"""OpenAI CLIP image towers through open_clip, one vector per residual block.

Pooling (spec.pooling == "cls"): each layer's vector is the CLS (prefix) token of
that block's *raw residual stream*, i.e. before ``ln_post`` and the projection,
because the forensic signal is read from the stream itself and ``ln_post`` only
exists after the last block. Tokens are the block's patch tokens, row-major on a
(size/patch, size/patch) grid. All blocks come from one
``visual.forward_intermediates`` pass, which also yields the projected image
embedding, so a fusion detector can have both for the price of one forward.

The text side (tokenizer, ``encode_text``) is kept for prompt embeddings; the BPE
vocabulary ships inside open_clip, so nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepfake_gui.core import config
from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders.base import Encoder, EncoderSpec, LayerFeatures
from deepfake_gui.encoders.families.image_common import ImagePreprocessing

FORENSIC_PROMPT_FILE = "forensic_prompt.txt"

# Tiny random CLIP for tests: the same open_clip CLIP class and forward path as the real towers.
TINY_CLIP_CFG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 64, "layers": 3, "head_width": 32, "mlp_ratio": 2.0},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


class ClipImageEncoder(Encoder):
    """An open_clip CLIP model whose image tower is read block by block."""

    def __init__(self, spec: EncoderSpec, device: str, model: Any, tokenizer: Any) -> None:
        super().__init__(spec, device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.pre = ImagePreprocessing.from_config(spec.preprocessing, default_mode="bicubic")
        visual = self.model.visual
        blocks = len(visual.transformer.resblocks)
        if blocks != spec.num_layers:
            raise ValueError(f"{spec.name}: model has {blocks} blocks, spec names {spec.num_layers} layers")
        if tuple(visual.image_size) != (self.pre.size, self.pre.size):
            raise ValueError(f"{spec.name}: model expects {visual.image_size} input, spec crops {self.pre.size}")
        self.grid: tuple[int, int] = tuple(visual.grid_size)  # type: ignore[assignment]
        self._prompt_embedding: torch.Tensor | None = None

    # ------------------------------------------------------------ features
    def preprocess(self, items: Sequence[np.ndarray]) -> torch.Tensor:
        return self.pre(items)

    def _intermediates(self, batch: torch.Tensor) -> dict[str, Any]:
        # indices=None -> every block; NLC keeps tokens as (N, T, D); prefix tokens = the CLS token
        return self.model.visual.forward_intermediates(
            batch, indices=None, output_fmt="NLC", output_extra_tokens=True, intermediates_only=False
        )

    def _features(self, out: dict[str, Any], tokens: bool) -> LayerFeatures:
        patches = out["image_intermediates"]  # list of (N, h*w, D)
        cls = out["image_intermediates_prefix"]  # list of (N, 1, D)
        return LayerFeatures(
            layer_names=self.layer_names,
            pooled=[c[:, 0] for c in cls],
            tokens=list(patches) if tokens else None,
            token_grid=self.grid if tokens else None,
        )

    def _forward(self, batch: torch.Tensor, tokens: bool) -> LayerFeatures:
        return self._features(self._intermediates(batch), tokens)

    def forward_with_embedding(
        self, batch: torch.Tensor, *, tokens: bool = False
    ) -> tuple[LayerFeatures, torch.Tensor]:
        """Per-block features and the L2-normalised image embedding from a single pass."""
        from deepfake_gui.encoders.device import autocast_context, to_device

        batch = to_device(batch, self.device)
        with torch.inference_mode(), autocast_context(self.device):
            out = self._intermediates(batch)
            feats = self._features(out, tokens)
        feats.pooled = [p.detach().float().cpu() for p in feats.pooled]
        if feats.tokens is not None:
            feats.tokens = [t.detach().float() for t in feats.tokens]
        embedding = torch.nn.functional.normalize(out["image_features"].float(), dim=-1).cpu()
        return feats, embedding

    # ----------------------------------------------------------- embeddings
    def image_embedding(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, E) projected, L2-normalised image embedding (E = 512 for B/32 and B/16, 768 for L/14)."""
        from deepfake_gui.encoders.device import autocast_context, to_device

        batch = to_device(batch, self.device)
        with torch.inference_mode(), autocast_context(self.device):
            emb = self.model.encode_image(batch, normalize=False)
        return torch.nn.functional.normalize(emb.float(), dim=-1).cpu()

    def text_embedding(self, texts: list[str]) -> torch.Tensor:
        """(M, E) L2-normalised text embeddings, in the same space as image_embedding."""
        from deepfake_gui.encoders.device import autocast_context

        if not texts:
            raise ValueError("text_embedding needs at least one text")
        ids = self.tokenizer(list(texts)).to(self.device)
        with torch.inference_mode(), autocast_context(self.device):
            emb = self.model.encode_text(ids, normalize=False)
        return torch.nn.functional.normalize(emb.float(), dim=-1).cpu()

    def forensic_prompt_embedding(self) -> torch.Tensor:
        """(1, E) embedding of the static forensic prompt in resources/, computed once per encoder."""
        if self._prompt_embedding is None:
            self._prompt_embedding = self.text_embedding([forensic_prompt()])
        return self._prompt_embedding


def forensic_prompt() -> str:
    """The one-line prompt a fusion detector compares image embeddings against."""
    path = config.resources_dir() / FORENSIC_PROMPT_FILE
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"{path} is empty; it must hold the forensic prompt")
    return text.splitlines()[0].strip()


# ------------------------------------------------------------------ builders
def build(spec: EncoderSpec, device: str, weights_path: Path | None) -> ClipImageEncoder:
    """open_clip ``spec.options['arch']`` with QuickGELU (OpenAI weights) from a local checkpoint file."""
    import open_clip

    if weights_path is None or not Path(weights_path).is_file():
        raise WeightsUnavailableError(
            f"encoder {spec.name} needs an open_clip checkpoint file, got {weights_path}. "
            f"Get it with: {spec.install_hint}"
        )
    arch = spec.options["arch"]
    # A file path (not a tag) for `pretrained` means no hub lookup; load is strict and weights_only.
    model = open_clip.create_model(arch, pretrained=str(weights_path), force_quick_gelu=True, device="cpu")
    return ClipImageEncoder(spec, device, model, open_clip.get_tokenizer(arch))


def tiny_model() -> Any:
    """The random-init tiny CLIP (seed 0), exposed so tests can save and reload it."""
    import open_clip

    torch.manual_seed(0)
    return open_clip.CLIP(**TINY_CLIP_CFG, quick_gelu=True)


def build_tiny(spec: EncoderSpec, device: str, weights_path: Path | None = None) -> ClipImageEncoder:
    from open_clip.tokenizer import SimpleTokenizer

    model = tiny_model()
    return ClipImageEncoder(spec, device, model, SimpleTokenizer(context_length=model.context_length))
