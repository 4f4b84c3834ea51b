"""`python -m services` = `parley`: with no arguments, run the embedded suite."""

import sys

from services.cli import main

sys.exit(main(sys.argv[1:] or ["run"]))
