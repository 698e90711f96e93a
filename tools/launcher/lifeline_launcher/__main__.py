"""Entry point of `python -m lifeline_launcher`."""

import sys

from lifeline_launcher.cli import main

sys.exit(main())
