"""``python -m nnconform``: the command line."""

import sys

from nnconform.cli import main

sys.exit(main())
