"""Forks in a loop; each child sleeps. Bounded (300 forks) so a broken guard cannot
take the machine down; the children exit by themselves after a minute."""

import os
import time

from algobt import Strategy


class ForkBomb(Strategy):
    def init(self):
        for _ in range(300):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)

    def next(self):
        pass
