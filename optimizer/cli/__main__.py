"""``python -m optimizer.cli``: the ``optimizer`` command without the installed script."""

import sys

from optimizer.cli import main

sys.exit(main())
