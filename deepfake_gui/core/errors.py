"""One exception type for everything a user can do wrong with a file.

The message always names the file, what failed and why, because it is shown
verbatim in the CLI's JSON and in the GUI's error column.
"""

from __future__ import annotations

from pathlib import Path


class LayerScopeError(Exception):
    """Base class for errors with a message meant for the user."""


class UsageError(LayerScopeError):
    """The command line itself is wrong (a missing path, a bad setting): exit code 2, nothing is scanned."""


class MediaError(LayerScopeError):
    """A file could not be probed or decoded.

    ``reason`` is a short machine-friendly tag (``not-media``, ``truncated``,
    ``too-large``, ``unreadable``, ``unsupported``, ``empty``) so tests and the
    GUI can group errors without parsing prose.
    """

    def __init__(self, path: str | Path, what: str, why: str, reason: str = "unreadable") -> None:
        self.path = str(path)
        self.what = what
        self.why = why
        self.reason = reason
        super().__init__(f"{self.path}: {what}: {why}")


class FileStopped(MediaError):
    """The scan of one file was stopped: its decoder crashed or hung, or it went past the memory budget.

    Unlike a plain MediaError, which may leave another track of the file scored
    (``partial``), this always makes the whole file an error line: a decoder that
    crashed on its bytes, or a file that needs more memory than allowed, says
    nothing trustworthy about its other tracks either.
    """


class WeightsUnavailableError(LayerScopeError):
    """Pretrained weights are not on this machine; the message says how to get them."""


class BundleError(LayerScopeError):
    """A detector bundle is malformed, unsafe or incompatible."""
