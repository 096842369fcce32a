"""Grows a list of 80 KB lists until memory runs out (no single big request)."""

from algobt import Strategy


class GrowingList(Strategy):
    def init(self):
        self.hoard = []

    def next(self):
        while True:
            self.hoard.append([0] * 10_000)
