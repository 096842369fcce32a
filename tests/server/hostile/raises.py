"""Raises its own exception on the tenth bar."""

from algobt import Strategy


class Raises(Strategy):
    def init(self):
        self.bars = 0

    def next(self):
        self.bars += 1
        if self.bars == 10:
            raise ValueError("boom on purpose")
