"""`python -m openovc`: the same as the `openovc` command."""

import sys

from openovc.cli import main

sys.exit(main())
