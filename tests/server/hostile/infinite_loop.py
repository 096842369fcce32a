"""Burns CPU forever in next(): the CPU limit must stop it."""

from algobt import Strategy


class InfiniteLoop(Strategy):
    def init(self):
        pass

    def next(self):
        while True:
            pass
