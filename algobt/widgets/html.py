"""Rich display without a widget: a run's key stats as a table and its equity as an inline SVG.

What ``Result._repr_html_`` (and a stored run's) shows in a notebook, in GitHub's
notebook viewer and in exported HTML: plain HTML, no JavaScript, no widget
extension needed.

    >>> print(sparkline([1.0, 2.0, 1.5], width=20, height=10))
    <svg ... viewBox="0 0 20 10" ...><polyline ... points="0.0,9.0 10.0,1.0 20.0,5.0"/></svg>
"""

from __future__ import annotations

import html
import math

import numpy as np

# (label, BacktestResult key, format)
KEY_STATS = (
    ("Return", "total_return_pct", "pct"),
    ("Buy & hold", "buy_and_hold_return", "pct"),
    ("Final equity", "final_equity", "money"),
    ("Net profit", "net_profit", "money"),
    ("Sharpe ratio", "sharpe_ratio", "num"),
    ("Max. drawdown", "max_drawdown", "pct"),
    ("Trades", "total_trades", "int"),
    ("Win rate", "win_rate", "pct"),
    ("Profit factor", "profit_factor", "num"),
)


def _fmt(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if kind == "pct":
        return f"{value:.1f}%"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "int":
        return f"{int(value):,}"
    return f"{value:.2f}"


def sparkline(values, *, width: int = 240, height: int = 48, most: int = 240) -> str:
    """An inline SVG polyline of ``values`` (at most ``most`` points, evenly picked)."""
    y = np.asarray([v for v in values if v is not None], dtype=float)
    y = y[np.isfinite(y)]
    if len(y) < 2:
        return ""
    if len(y) > most:
        y = y[np.linspace(0, len(y) - 1, most).round().astype(int)]
    lo, hi = float(y.min()), float(y.max())
    span = hi - lo or 1.0
    xs = np.linspace(0, width, len(y))
    ys = 1 + (hi - y) / span * (height - 2)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
    color = "#1e8e7e" if y[-1] >= y[0] else "#d64541"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="equity">'
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/></svg>'
    )


def result_html(result: dict, *, title: str | None = None) -> str:
    """A ``BacktestResult`` dict as an HTML table of key stats beside an equity sparkline."""
    name = title or " · ".join(
        str(x) for x in (result.get("strategy_name"), result.get("symbol")) if x
    )
    span = " – ".join(str(x) for x in (result.get("start_date"), result.get("end_date")) if x)
    rows = "".join(
        f'<tr><th style="text-align:left;padding:1px 8px 1px 0">{html.escape(label)}</th>'
        f'<td style="text-align:right" data-key="{key}">{_fmt(result.get(key), kind)}</td></tr>'
        for label, key, kind in KEY_STATS
    )
    curve = [p.get("equity") for p in result.get("equity_curve") or []]
    svg = sparkline(curve)
    return (
        '<div class="algobt-result" style="display:flex;gap:16px;align-items:flex-start;'
        'font-family:system-ui,sans-serif;font-size:13px">'
        f"<table><caption style='text-align:left;font-weight:600'>{html.escape(name)}"
        f"<br><span style='font-weight:400;color:#667085'>{html.escape(span)}</span></caption>"
        f"<tbody>{rows}</tbody></table>"
        f'<div><div style="color:#667085;font-size:12px">Equity</div>{svg}</div></div>'
    )
