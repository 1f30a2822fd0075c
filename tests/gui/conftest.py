"""GUI tests leave no background work behind.

A view's pool job (report export, spectrogram, frame decode) can outlive the test that started
it, e.g. after Cancel; if it then reports to a view whose widgets the test's teardown already
deleted, the crash lands in whichever test runs next (seen as a rare segfault in tests/media).
Waiting for the pool after every GUI test keeps each test's threads inside the test. The same
goes for Qt objects caught in reference cycles: collected at a random later moment (inside a
media test, in three of seven full runs), a PySide object whose C++ side Qt already deleted can
crash the process; collecting them here, while the test's QApplication state is still settled,
keeps that inside the GUI test that made them.
"""

from __future__ import annotations

import gc

import pytest


@pytest.fixture(autouse=True)
def _no_background_work_left(qapp):
    yield
    from deepfake_gui.gui.views.common import wait_for_background

    assert wait_for_background(60_000), "a background job of this test was still running after 60 s"
    qapp.processEvents()  # deliver deleteLater() and queued signals of this test
    gc.collect()
    qapp.processEvents()
