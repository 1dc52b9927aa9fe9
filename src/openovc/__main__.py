"""`python -m openovc`: the same as the `openovc` command."""

import sys

from .cli import main

sys.exit(main())
