"""``python -m flows ...``: the same commands as the ``addressing-flows`` script."""

import sys

from flows.cli import main

sys.exit(main())
