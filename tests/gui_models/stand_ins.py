"""What the model tests hand the models in place of the views' Qt objects."""

from __future__ import annotations


class Handle:
    """Stands in for a JobHandle: models only ever call ``cancel()`` on the handles views give them."""

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
