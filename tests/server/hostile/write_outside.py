"""Writes a 1 GB file at ``target``, outside its working directory."""

from algobt import Strategy


class WriteOutside(Strategy):
    target = ""

    def init(self):
        block = b"x" * 2**20
        with open(self.target, "wb") as f:
            for _ in range(1024):
                f.write(block)

    def next(self):
        pass
