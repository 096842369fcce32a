"""Shared test setup: what the suite collects, and the strategy fixtures (``tests.strategies``)."""

from __future__ import annotations

# The suite runs with --doctest-modules, which imports every module it collects. The
# hostile strategies are meant to misbehave on import (loop forever, fork, exit): only
# the worker tests load them, inside a limited worker process.
collect_ignore_glob = ["server/hostile/*.py"]
