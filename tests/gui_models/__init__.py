"""The GUI's models (gui/models/) tested as plain Python: no QApplication, no Qt import."""
