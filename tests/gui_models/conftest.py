"""The GUI's models are plain Python: these tests build no QApplication and import no Qt."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class FakeHandle:
    """Stands in for a JobHandle: the models only ever call ``cancel()`` on the handles the views give them."""

    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture
def handle() -> type[FakeHandle]:
    return FakeHandle
