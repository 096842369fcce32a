"""Starts a daemon the classic way (fork, setsid, fork) that would outlive the run,
writes the daemon's pid to ``pidfile``, then finishes normally."""

import os
import time

from algobt import Strategy


class EscapeSetsid(Strategy):
    pidfile = ""

    def init(self):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                with open(self.pidfile, "w") as f:
                    f.write(str(os.getpid()))
                time.sleep(60)
            os._exit(0)
        os.wait()
        while not (os.path.exists(self.pidfile) and open(self.pidfile).read()):
            time.sleep(0.01)

    def next(self):
        pass
