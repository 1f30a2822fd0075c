"""The GUI's models: what its big widgets know and decide, in plain Python (no Qt).

A model holds a widget's state (selection, the jobs it started, what they yielded), decides
which engine job to start with which request, folds results into its state and says what
to show: texts (numbers through ``core.present.fmt_number``), colours, which actions are
enabled. The widget of the same name in ``gui/`` (``views/embeddings.py``,
``views/probe_lab.py``, ``main_window.py``) only renders its model and forwards the user's
actions to it, napari-style. Nothing here imports PySide6, pyqtgraph or a gui module that
does (``tests/test_architecture.py``), so every model is tested without a display.
"""
