"""The ``one-class`` kind: distance to the real training items (Mahalanobis or k-NN, probes/oneclass.py).

Its decision is the distance itself (higher = further from real = more likely fake) and
it flags above the calibrated threshold stored in its tensors. It gives no probability
(``file_calibration`` is None) and no per-token scores, so evaluate measures it and scan
does not run it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfake_gui.probes.bundle import DetectorBundle, TensorCheck, check_layer_dims, check_one_class
from deepfake_gui.probes.interface import BundleDetector
from deepfake_gui.probes.oneclass import load_one_class
from deepfake_gui.probes.registry import register_kind


class OneClassBundleDetector(BundleDetector):
    kind = "one-class"
    calibrated = False  # the threshold that flags is a tensor, on the distance scale
    description = "one-class detector"

    def __init__(self, bundle: DetectorBundle) -> None:
        super().__init__(bundle)
        self.model = load_one_class(bundle.arrays)

    @classmethod
    def check_tensors(cls, check: TensorCheck) -> int:
        width = check_one_class(check, "", "a one-class bundle")
        check_layer_dims(check, width)
        return width

    def decision(self, X: np.ndarray) -> np.ndarray:
        """The distance from the real training items (``score_samples``); flagged above ``threshold``."""
        return self.model.score_samples(X)

    @property
    def threshold(self) -> float:
        """The calibrated distance threshold (infinite when the bundle has none: nothing is flagged)."""
        return float(self.model.threshold_ if self.model.threshold_ is not None else np.inf)

    @property
    def band(self) -> tuple[float, float]:
        return self.threshold, self.threshold

    def one_class_models(self) -> dict[str, tuple[Any, str]]:
        own = {"one-class": (self.model, str(self.meta.get("one_class", {}).get("fitted_on",
                                                                              "real training items only")))}
        return own | super().one_class_models()


register_kind(OneClassBundleDetector.kind, OneClassBundleDetector)
