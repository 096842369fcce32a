"""Calls sys.exit() from next()."""

import sys

from algobt import Strategy


class SysExit(Strategy):
    def init(self):
        pass

    def next(self):
        sys.exit(0)
