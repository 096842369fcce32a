"""``python -m algobt`` is the ``algobt`` command."""

import sys

from algobt.cli import main

sys.exit(main())
