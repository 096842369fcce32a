"""Allocates 16 GB of float64 with numpy, in init()."""

import numpy as np

from algobt import Strategy


class HugeNumpy(Strategy):
    def init(self):
        self.hoard = np.ones(2**31)

    def next(self):
        pass
