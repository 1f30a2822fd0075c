"""scikit-learn's estimator contract for the probes, without importing scikit-learn.

The conventions every estimator in probes/ follows:

- parameters are set in ``__init__`` and stored unchanged under their own names
  (validated in ``fit``), so ``get_params`` / ``set_params`` read the signature and
  ``sklearn.base.clone`` works;
- randomness is ``random_state`` (an int), never ``seed``;
- learned state ends in ``_`` and exists only after ``fit`` (or ``from_arrays``);
- ``decision_function``: higher = more fake / more anomalous, for every estimator
  (a binary probe's logit, a one-class detector's distance past its threshold).

Why not ``sklearn.base.BaseEstimator`` itself: importing scikit-learn costs about half a
second, and a scan only applies bundles; scikit-learn is imported where a model is fitted.
"""

from __future__ import annotations

import inspect
from typing import Any, Self


class Estimator:
    """``get_params`` / ``set_params`` / ``repr`` from the constructor's signature, as scikit-learn does."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                raise TypeError(f"{cls.__name__}: scikit-learn estimators take no *args")
        return sorted(p.name for p in params if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Self:
        valid = set(self._get_param_names())
        for name, value in params.items():
            key, _, sub = name.partition("__")
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}; valid: {sorted(valid)}")
            if sub:
                getattr(self, key).set_params(**{sub: value})
            else:
                setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items()
                   if _differs(defaults.get(k, inspect.Parameter.empty), v)]
        return f"{type(self).__name__}({', '.join(changed)})"


def _differs(default: Any, value: Any) -> bool:
    if default is inspect.Parameter.empty:
        return True
    try:
        return bool(default != value)
    except (TypeError, ValueError):  # arrays and the like: show them
        return True
