"""The notebook face: anywidget widgets on the engine's event stream and results.

* ``LiveChart(config_or_result, speed=0, autoplay=True)``: a run played bar by bar;
* ``ResultWidget(result)`` (what ``result.plot()`` returns): cards, equity with
  drawdown, daily performance, symbol distribution, trades;
* ``Compare(results_or_run_ids)``: runs side by side, equity overlaid;
* ``Heatmap(table, x=, y=, metric=)``: one metric of a parameter sweep over two parameters.

They need the ``notebook`` extra (``pip install "algobt[notebook]"``); their
JavaScript ships inside the package (``algobt/widgets/static/``, built from
``frontend/``), so nothing is loaded from the internet. See ``docs/notebooks.md``.
"""

from algobt.widgets.compare import Compare
from algobt.widgets.heatmap import Heatmap
from algobt.widgets.live import LiveChart
from algobt.widgets.result import ResultWidget

__all__ = ["LiveChart", "ResultWidget", "Compare", "Heatmap"]
