"""Estimators, labelled sets as estimators see them, and detector bundles (layer 3).

Importing the package registers the built-in detector kinds: each kind's module calls
``probes.registry.register_kind`` when imported, and the list below is where a new kind
is added (docs/ARCHITECTURE.md, "The detector protocol").
"""

from deepfake_gui.probes import detector, ensemble, fusion, oneclass_detector  # noqa: F401  (register their kinds)
