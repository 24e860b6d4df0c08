"""``python -m optimizer.cli``: the ``optimizer`` command, from this checkout."""

import sys

from optimizer.cli import main

sys.exit(main())
