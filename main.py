"""python main.py [PATH...] opens the desktop app; python main.py SUBCOMMAND runs the CLI."""

import sys

from deepfake_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
