"""Sleeps without using CPU: only the wall-clock limit can stop it."""

import time

from algobt import Strategy


class SleepForever(Strategy):
    def init(self):
        pass

    def next(self):
        time.sleep(10**9)
