"""The SQLite store: one file for runs from notebooks and from the server.

    >>> from algobt.store import Store
    >>> from algobt.engine.run import run_config
    >>> store = Store(":memory:")
    >>> code = ("from algobt import Strategy\\n"
    ...         "class Hold(Strategy):\\n"
    ...         "    def next(self):\\n"
    ...         "        if not self.position:\\n"
    ...         "            self.buy()\\n")
    >>> config = {"symbol": "DEMO", "period": "1y", "strategy_code": code}
    >>> run = store.record_run(config, run_config(config).to_dict(), strategy_name="SMA")
    >>> store.latest_by_strategy(run["strategy_id"])["strategy_name"]
    'SMA'

An adapter: the engine never imports it; the server and explicit save calls do.
Modules: ``connection`` (opening, checking and locking the file), ``schema``
(tables and migrations), ``codec`` (values in and out), one module per
resource (``strategies``, ``configs``, ``runs``, ``results``), ``shapes`` (result,
trade and latest rows in and out), ``store``
(``Store`` itself), ``notebook`` (``save_run``), ``diff`` (two runs side by side) and
``rerun`` (a stored run made again). See ``docs/store.md``.
"""

from algobt.store.connection import default_path
from algobt.store.notebook import default_store, save_run
from algobt.store.rerun import Rerun, diff, rerun
from algobt.store.schema import SCHEMA_VERSION
from algobt.store.store import Store

__all__ = [
    "Store", "save_run", "default_store", "default_path", "SCHEMA_VERSION", "rerun", "diff",
    "Rerun",
]  # fmt: skip
