"""``Compare``: several runs side by side, with their equity curves overlaid."""

from __future__ import annotations

import anywidget
import traitlets

from algobt.errors import ConfigError
from algobt.store.shapes import COMPARE_METRICS, HIGHER_IS_BETTER, LOWER_IS_BETTER
from algobt.widgets.live import STATIC
from algobt.widgets.result import result_dict


def compare_table(results: list, labels: list | None = None) -> dict:
    """The store's compare shape (``Store.compare_runs``) for results in memory: one column
    per result, numbered 1, 2, ... in the order given, and the best run per metric."""
    runs = []
    for i, res in enumerate(results, start=1):
        d = result_dict(res)
        runs.append(
            {
                "run_id": i,
                "label": labels[i - 1] if labels else f"#{i}",
                "strategy_name": d.get("strategy_name") or d.get("strategy"),
                "symbol": d.get("symbol"),
                "timeframe": d.get("timeframe"),
                "period": d.get("period"),
                **{m: d.get(m) for m in COMPARE_METRICS},
                "equity_curve": d.get("equity_curve") or [],
            }
        )
    best = {}
    for metric in HIGHER_IS_BETTER + LOWER_IS_BETTER:
        scored = [(r[metric], r["run_id"]) for r in runs if r[metric] is not None]
        if scored:
            pick = max if metric in HIGHER_IS_BETTER else min
            best[metric] = pick(scored, key=lambda pair: pair[0])[1]
    return {"metrics": list(COMPARE_METRICS), "runs": runs, "best": best}


class Compare(anywidget.AnyWidget):
    """Runs side by side: a metrics table (the best run per metric marked), a column per
    run (``[data-testid=compare-column][data-run-id]``) and the equity curves overlaid.

    results_or_run_ids: ``Result`` objects (numbered 1, 2, ... here), or ids of stored
    runs (read from ``store``, the default store unless given).
    """

    _esm = STATIC / "compare.js"
    _css = STATIC / "widgets.css"

    compare = traitlets.Dict().tag(sync=True)
    curves = traitlets.List().tag(sync=True)

    def __init__(self, results_or_run_ids, *, store=None, **kwargs):
        items = list(results_or_run_ids)
        if len(items) < 2:
            raise ConfigError("Compare needs two or more results or run ids", field="results")
        if all(isinstance(x, int) and not isinstance(x, bool) for x in items):
            from algobt.store.notebook import _store

            db, opened = _store(store)
            try:
                table = db.compare_runs(items, equity=True)
            finally:
                if opened:
                    db.close()
            for run in table["runs"]:
                run["label"] = f"#{run['run_id']}"
        else:
            table = compare_table(items)
        curves = [{"label": r["label"], "points": r.pop("equity_curve", [])} for r in table["runs"]]
        super().__init__(compare=table, curves=curves, **kwargs)
