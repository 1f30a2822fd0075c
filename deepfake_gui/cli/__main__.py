"""`python -m deepfake_gui.cli`: the `layerscope` command."""

import sys

from deepfake_gui.cli import main

sys.exit(main())
