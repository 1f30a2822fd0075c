"""Layer-probed encoders: one interface, a registry of specs, weights lookup, feature cache."""

from deepfake_gui.encoders.base import Encoder, EncoderSpec, LayerFeatures, WeightSource
from deepfake_gui.encoders.registry import build_encoder, get_spec, list_encoders

__all__ = ["Encoder", "EncoderSpec", "LayerFeatures", "WeightSource", "build_encoder", "get_spec", "list_encoders"]
