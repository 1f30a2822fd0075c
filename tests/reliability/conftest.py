"""Shared helpers of the reliability tests: scans with the detectors stood in for (this is about files)."""

from __future__ import annotations

import pytest

from deepfake_gui.engine import detectors as detectors_module


@pytest.fixture
def no_models(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The CLI's scan with no detectors loaded; the list counts how often detectors were asked for."""
    calls: list[int] = []

    def resolve(*_args, **_kwargs) -> list:
        calls.append(1)
        return []

    monkeypatch.setattr(detectors_module, "resolve_detectors", resolve)
    return calls
