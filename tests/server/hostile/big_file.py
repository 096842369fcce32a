"""Records its working directory in ``report``, then writes a 1 GB file there."""

import os

from algobt import Strategy


class BigFile(Strategy):
    report = ""

    def init(self):
        with open(self.report, "w") as f:
            f.write(os.getcwd())
        block = b"x" * 2**20
        with open("big.bin", "wb") as f:
            for _ in range(1024):
                f.write(block)

    def next(self):
        pass
