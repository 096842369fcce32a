"""Allocates 10 GB at once."""

from algobt import Strategy


class HugeBytearray(Strategy):
    def init(self):
        pass

    def next(self):
        self.hoard = bytearray(10 * 2**30)
