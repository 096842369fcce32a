"""Burns CPU forever at module level, before any Strategy exists."""

from algobt import Strategy

while True:
    pass


class Never(Strategy):
    def init(self):
        pass

    def next(self):
        pass
