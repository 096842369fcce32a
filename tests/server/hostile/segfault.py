"""Reads address 0 through ctypes: a segmentation fault."""

import ctypes

from algobt import Strategy


class Segfault(Strategy):
    def init(self):
        pass

    def next(self):
        ctypes.string_at(0)
