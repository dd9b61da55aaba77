"""``python -m unflat`` runs the command line."""

import sys

from unflat.cli import main

sys.exit(main())
