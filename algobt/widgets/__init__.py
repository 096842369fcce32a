"""The notebook face: anywidget widgets on the engine's event stream and results.

* ``LiveChart(config_or_result, speed=0, autoplay=True)``: a run played bar by bar;
* ``ResultWidget(result)`` (what ``result.plot()`` returns): cards, equity with
  drawdown, daily performance, symbol distribution, trades;
* ``Compare(results_or_run_ids)``: runs side by side, equity overlaid;
* ``Heatmap(table, x=, y=, metric=)``: one metric of a parameter sweep over two parameters;
* ``StoredRun(run_id)``: a run from the store, shown as a table (``.plot()`` for the widget).

They need the ``notebook`` extra (``pip install "algobt[notebook]"``); their
JavaScript ships inside the package (``algobt/widgets/static/``, built from
``frontend/``), so nothing is loaded from the internet. See ``docs/notebooks.md``.
"""

import importlib

_WIDGETS = {
    "LiveChart": "algobt.widgets.live",
    "ResultWidget": "algobt.widgets.result",
    "Compare": "algobt.widgets.compare",
    "Heatmap": "algobt.widgets.heatmap",
    "StoredRun": "algobt.widgets.stored",
}

__all__ = list(_WIDGETS)


def __getattr__(name: str):
    # Imported on first use, so algobt.widgets.html (plain HTML) works without anywidget.
    module = _WIDGETS.get(name)
    if module is None:
        raise AttributeError(f"module 'algobt.widgets' has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name in ("anywidget", "ipywidgets", "traitlets"):
            raise ModuleNotFoundError(
                f'algobt.widgets.{name} needs the notebook extra: pip install "algobt[notebook]"',
                name=exc.name,
            ) from exc
        raise
