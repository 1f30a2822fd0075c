"""The ``linear-probe`` kind: a linear probe on one encoder's pooled layers (adapted detectors included).

The shipped detectors are of this kind. An adapted detector (``layerscope adapt``) is a
linear-probe bundle with an ``adaptation`` record and a ``reference_*`` model beside the
probe; the shared base (probes/interface.py) reads those extras for every kind.

Also registers the ``attribution`` bundle layout (a probe over real + each generator),
which is read and validated but is not a detector by itself.

``Detector`` is this class's historic name (kept for scripts and tests); the protocol every
kind implements is :class:`deepfake_gui.probes.interface.Detector`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfake_gui.probes.bundle import DetectorBundle, TensorCheck, check_layer_dims, check_linear
from deepfake_gui.probes.interface import BundleDetector, Calibration
from deepfake_gui.probes.linear import LinearProbe, torch_decision
from deepfake_gui.probes.registry import register_kind, register_layout

__all__ = ["ATTR_PREFIX", "PROBE_KEYS", "BundleDetector", "Calibration", "Detector", "LinearProbeDetector"]

PROBE_KEYS = ("coef", "intercept", "scaler_mean", "scaler_std")
ATTR_PREFIX = "attr_"


class LinearProbeDetector(BundleDetector):
    kind = "linear-probe"
    localizes = True  # a linear probe scores every token state as it scores their mean
    adaptable = True
    description = "linear detector"

    def __init__(self, bundle: DetectorBundle) -> None:
        super().__init__(bundle)
        self.probe_arrays = {k: bundle.arrays[k] for k in PROBE_KEYS}
        self.probe = LinearProbe.from_arrays(self.probe_arrays, ["real", "fake"])

    @classmethod
    def check_tensors(cls, check: TensorCheck) -> int:
        width = check_linear(check, "", len(check.meta["classes"]), "classes", one_decision=True)
        check_layer_dims(check, width)
        return width

    @property
    def n_features(self) -> int:
        return int(self.probe.coef_.shape[1])

    def decision(self, X: np.ndarray) -> np.ndarray:
        return self.probe.decision_function(X)

    def token_decision(self, tokens: Any) -> Any:
        """Probe decision on every token state: (N, T, D) -> (N, T) on the tokens' device."""
        return torch_decision(self.probe_arrays, tokens)


def _check_attribution(check: TensorCheck) -> int:
    width = check_linear(check, "", len(check.meta["classes"]), "classes")
    check_layer_dims(check, width)
    return width


Detector = LinearProbeDetector
register_kind(LinearProbeDetector.kind, LinearProbeDetector)
register_layout("attribution", _check_attribution)
