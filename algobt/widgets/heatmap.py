"""``Heatmap``: one metric of a parameter sweep over two of its parameters.

The table is tidy: one row per parameter combination, one column per parameter
and one per metric (what ``algobt.optimize(...).table`` gives). Where other
parameters vary too, a cell shows the best value over them.
"""

from __future__ import annotations

import anywidget
import numpy as np
import pandas as pd
import traitlets

from algobt.errors import ConfigError
from algobt.widgets.live import STATIC

LOWER_IS_BETTER = ("max_drawdown", "Max. Drawdown [%]", "volatility", "Volatility (Ann.) [%]")


class Heatmap(anywidget.AnyWidget):
    """A coloured grid of ``metric`` by ``x`` and ``y`` (two parameter columns of ``table``).

    parameters: the parameter columns (by default the columns before the first
    metric: every non-metric column). metrics: the metric columns (by default every
    numeric column that is not a parameter). Rendered as ``[data-testid=heatmap]``
    with one ``[data-testid=heatmap-cell][data-x][data-y][data-value]`` per cell.
    """

    _esm = STATIC / "heatmap.js"
    _css = STATIC / "widgets.css"

    rows = traitlets.List().tag(sync=True)
    parameters = traitlets.List().tag(sync=True)
    metrics = traitlets.List().tag(sync=True)
    x = traitlets.Unicode().tag(sync=True)
    y = traitlets.Unicode().tag(sync=True)
    metric = traitlets.Unicode().tag(sync=True)
    lower_is_better = traitlets.List(list(LOWER_IS_BETTER)).tag(sync=True)

    def __init__(
        self,
        table: pd.DataFrame,
        *,
        x: str | None = None,
        y: str | None = None,
        metric: str | None = None,
        parameters: list[str] | None = None,
        **kwargs,
    ):
        if not isinstance(table, pd.DataFrame) or table.empty:
            raise ConfigError("Heatmap needs a non-empty DataFrame", field="table")
        if parameters is None:
            parameters = [c for c in (x, y) if c is not None] or list(table.columns[:2])
        missing = [c for c in parameters if c not in table.columns]
        if missing:
            raise ConfigError(
                f"no column {missing[0]!r} in the table; its columns are {list(table.columns)}",
                field="parameters",
            )
        metrics = [
            c
            for c in table.columns
            if c not in parameters and pd.api.types.is_numeric_dtype(table[c])
        ]
        if len(parameters) < 2 or not metrics:
            raise ConfigError(
                "Heatmap needs two parameter columns and at least one numeric metric column",
                field="table",
            )
        x = x or parameters[0]
        y = y or parameters[1]
        metric = metric or metrics[0]
        for name, value, allowed in (("x", x, parameters), ("y", y, parameters)):
            if value not in allowed:
                raise ConfigError(f"{name}={value!r} is not one of {allowed}", field=name)
        if metric not in metrics:
            raise ConfigError(f"metric={metric!r} is not one of {metrics}", field="metric")
        frame = table[[*parameters, *metrics]].astype(object)
        frame = frame.where(pd.notna(frame), None)
        rows = [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in frame.to_dict("records")
        ]
        super().__init__(
            rows=rows,
            parameters=[str(p) for p in parameters],
            metrics=[str(m) for m in metrics],
            x=str(x),
            y=str(y),
            metric=str(metric),
            **kwargs,
        )

    def grid(self) -> pd.DataFrame:
        """The cells as shown: ``metric`` by ``y`` (rows) and ``x`` (columns), best over the
        other parameters."""
        frame = pd.DataFrame(self.rows)
        agg = "min" if self.metric in self.lower_is_better else "max"
        return frame.pivot_table(index=self.y, columns=self.x, values=self.metric, aggfunc=agg)
