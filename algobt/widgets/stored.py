"""``StoredRun``: a run read back from the store, displayed like a ``Result``."""

from __future__ import annotations

import html

from algobt.widgets.html import result_html


class StoredRun:
    """Run ``run_id`` of ``store`` (the default store unless given): ``run`` (the run's
    record), ``result`` (its ``BacktestResult`` dict, None while it has none); shows
    itself as a key-stats table with an equity sparkline; ``plot()`` gives the result
    widget."""

    def __init__(self, run_id: int, *, store=None):
        from algobt.store.notebook import _store

        db, opened = _store(store)
        try:
            self.run = db.get_run(run_id)
            results = db.run_results(run_id)
        finally:
            if opened:
                db.close()
        self.run_id = run_id
        first = results[0] if results else None
        self.result = first.get("result", first) if isinstance(first, dict) else None

    def _repr_html_(self) -> str:
        name = self.run.get("strategy_name") or ""
        title = html.escape(f"run #{self.run_id} · {name} · {self.run.get('status')}")
        if self.result is None:
            return f"<div class='algobt-result'>{title}: no result yet</div>"
        return result_html(self.result, title=f"run #{self.run_id} · {name}")

    def plot(self):
        """The result widget (``algobt.widgets.ResultWidget``) of this run."""
        from algobt.widgets.result import ResultWidget

        return ResultWidget(self.result)
