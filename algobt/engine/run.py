"""Config → data → strategy → broker → ``Result``; one symbol or several.

    >>> from algobt.engine.run import run_config
    >>> from algobt.examples import SmaCross
    >>> outcome = run_config({"symbol": "DEMO", "period": "1y", "strategy": SmaCross})
    >>> outcome.result["# Trades"] == len(outcome.result.trades) > 0
    True

A strategy arrives as a ``Strategy`` class (Python callers), Python source
text, or a canonical JSON rule spec (text or dict); ``detect_kind`` tells
the two texts apart. A multi-symbol run splits the capital equally, runs each
symbol on its own and combines them into one result whose equity is the sum
of the parts and whose ``symbol_stats`` has one row per symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from algobt.engine import provenance
from algobt.engine.alerts import ALERT_MODES, Alerts, alerts_json
from algobt.engine.backtest import Backtest
from algobt.engine.config import RunConfig
from algobt.engine.detect import detect_kind
from algobt.engine.metrics import TRADE_COLUMNS, compute_stats
from algobt.engine.report import backtest_result
from algobt.engine.result import Result
from algobt.engine.strategy import Strategy
from algobt.errors import ConfigError, StrategyError


def strategy_from_source(
    source: str, filename: str = "<strategy>", class_name: str | None = None
) -> type[Strategy]:
    """Exec Python source and return its ``Strategy`` subclass: the last one defined
    (so helper base classes may come first), or the one named ``class_name``.

    Runs the code in this process: for code from the network the server uses a
    separate worker process instead.
    """
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        raise StrategyError(
            f"syntax error at line {exc.lineno}, column {exc.offset}: {exc.msg}"
        ) from None
    namespace: dict = {"__name__": "algobt_user_strategy"}
    try:
        exec(code, namespace)
    except Exception as exc:
        raise StrategyError(
            f"running the strategy code failed: {type(exc).__name__}: {exc}"
        ) from exc
    found = [
        v
        for v in namespace.values()
        if isinstance(v, type)
        and issubclass(v, Strategy)
        and v is not Strategy
        and v.__module__ == "algobt_user_strategy"
    ]
    if not found:
        raise StrategyError(
            "the code defines no subclass of algobt.Strategy; write "
            "`class MyStrategy(Strategy):` with init() and next()"
        )
    if class_name is not None:
        for cls in found:
            if cls.__name__ == class_name:
                return cls
        raise StrategyError(
            f"the code has no Strategy class {class_name!r}; it has "
            f"{[cls.__name__ for cls in found]}"
        )
    # The last one defined wins, so helper base classes may come first.
    return found[-1]


@dataclass
class RunOutcome:
    """A finished run: its combined ``result``, the per-symbol ones and the data used."""

    config: RunConfig
    result: Result
    per_symbol: dict[str, Result] = field(default_factory=dict)
    data: dict[str, pd.DataFrame] = field(default_factory=dict)
    strategy_name: str = ""
    kind: str = "python"
    provenance: dict = field(default_factory=dict)

    def to_dict(self, *, alerts: str = "summary") -> dict:
        """The ``BacktestResult`` (docs/api.md) of the (combined) run, with the config echoed.

        alerts: ``"summary"`` (one entry per symbol and alert code, with its count and
        first/last bar) or ``"full"`` (every alert); see ``docs/records.md``.
        """
        return result_dict(self, alerts=alerts)


def _runner(cfg: RunConfig):
    """(name, kind, run(data, cash, symbol) -> Result, strategy provenance) for the
    config's strategy."""
    settings = dict(
        commission=cfg.commission,
        slippage=cfg.slippage,
        spread=cfg.spread,
        lot_size=cfg.lot_size,
        trade_on_close=cfg.trade_on_close,
        finalize_trades=cfg.finalize_trades,
    )
    cfg.require_strategy()
    if cfg.strategy is not None:
        cls = cfg.strategy
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise ConfigError("strategy must be a subclass of algobt.Strategy", field="strategy")
    elif detect_kind(cfg.strategy_code) == "json":
        from algobt.engine import rules

        parsed = rules.parse_spec(cfg.strategy_code)  # errors name the JSON path
        if cfg.params:
            parsed = rules.with_parameters(parsed, cfg.params)
        name = cfg.strategy_name or rules.spec_name(parsed)

        if cfg.sl_tp_priority != "stop_loss":
            raise ConfigError(
                "a JSON rule spec runs on the fast path, which fills a bar touching both "
                "stop-loss and take-profit at the stop-loss; leave sl_tp_priority at "
                "'stop_loss' or write the strategy as a Python class",
                field="sl_tp_priority",
            )

        def run_spec(data, cash, symbol):
            return rules.run_spec(parsed, data, cash=cash, symbol=symbol, **settings)

        code = cfg.strategy_code if isinstance(cfg.strategy_code, dict) else str(cfg.strategy_code)
        return name, "json", run_spec, provenance.strategy_entry("json", name, code)
    else:
        cls = strategy_from_source(str(cfg.strategy_code))

    name = cfg.strategy_name or cls.__name__
    if cfg.strategy is not None:
        origin = provenance.strategy_entry("class", name, cls=cls)
    else:
        origin = provenance.strategy_entry("python", name, str(cfg.strategy_code), cls=cls)

    def run_class(data, cash, symbol):
        bt = Backtest(
            data,
            cls,
            cash=cash,
            margin=cfg.margin,
            hedging=cfg.hedging,
            exclusive_orders=cfg.exclusive_orders,
            sl_tp_priority=cfg.sl_tp_priority,
            symbol=symbol,
            **settings,
        )
        return bt.run(**cfg.params)

    return name, "python", run_class, origin


def load_for(cfg: RunConfig, symbol: str) -> pd.DataFrame:
    """The bars a config asks for, for one symbol."""
    from algobt.engine.data import load

    period = None if cfg.period == "custom" else cfg.period
    return load(
        symbol,
        period=period,
        start_date=cfg.start_date,
        end_date=cfg.end_date,
        interval=cfg.interval,
        source=cfg.source,
    )


def run_config(config, data: dict[str, pd.DataFrame] | None = None, *, progress=None) -> RunOutcome:
    """Run a config (a ``RunConfig`` or a dict) and return the outcome.

    data: already loaded bars by symbol (skips loading); handy for tests and the stream.
    progress: called as ``progress(phase, done, total)`` — ``("loading", symbols
    loaded, symbols)``, then ``("running", bars simulated, bars)`` before and after
    each symbol — so a queued run can report how far it is; it may raise to stop the run.
    """
    report = progress or (lambda phase, done, total: None)
    cfg = RunConfig.from_dict(config)
    name, kind, run_one, origin = _runner(cfg)
    symbols = cfg.symbol_list
    frames = dict(data or {})
    for loaded, symbol in enumerate(symbols):
        report("loading", loaded, len(symbols))
        if symbol not in frames:
            frames[symbol] = load_for(cfg, symbol)
    cash = cfg.initial_capital / len(symbols)
    bars, simulated, per_symbol = sum(len(frames[s]) for s in symbols), 0, {}
    for symbol in symbols:
        report("running", simulated, bars)
        per_symbol[symbol] = run_one(frames[symbol], cash, symbol)
        simulated += len(frames[symbol])
    report("running", simulated, bars)
    for res in per_symbol.values():
        res.strategy_name = name
    result = per_symbol[symbols[0]] if len(symbols) == 1 else combine(per_symbol, frames, name)
    record = provenance.make_provenance(
        strategy=origin,
        params=cfg.params,
        frames={s: frames[s] for s in symbols},
        fill_rules=cfg.to_dict(),
        runner="run_config",
    )
    return RunOutcome(cfg, result, per_symbol, frames, name, kind, record)


def combine(
    per_symbol: dict[str, Result], data: dict[str, pd.DataFrame], strategy_name: str
) -> Result:
    """One portfolio result from per-symbol results run on separate capital.

    Equity is the sum of the parts on the union of their timestamps (each part
    carried forward between its own bars, and at its starting capital before
    its first bar). Buy & hold is an equal-weight basket of the symbols.
    """
    index = data[next(iter(data))].index
    for frame in data.values():
        index = index.union(frame.index)
    equity = np.zeros(len(index))
    basket = np.zeros(len(index))
    for symbol, res in per_symbol.items():
        curve = res.equity_curve["Equity"].reindex(index).ffill()
        equity += curve.fillna(curve.dropna().iloc[0]).to_numpy()
        close = data[symbol]["Close"].reindex(index).ffill()
        close = close.fillna(close.dropna().iloc[0])
        basket += close.to_numpy() / close.iloc[0] / len(per_symbol)
    ohlc = pd.DataFrame(
        {"Open": basket, "High": basket, "Low": basket, "Close": basket, "Volume": 0.0}, index=index
    )
    parts = []
    for symbol, res in per_symbol.items():
        trades = res.trades[list(TRADE_COLUMNS)].copy()
        trades["EntryBar"] = index.get_indexer(trades["EntryTime"])
        trades["ExitBar"] = index.get_indexer(trades["ExitTime"])
        trades["Symbol"] = symbol
        parts.append(trades)
    trades = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=[*TRADE_COLUMNS, "Symbol"])
    )
    trades = trades.sort_values(["ExitTime", "EntryTime"], kind="stable").reset_index(drop=True)
    stats = compute_stats(trades, equity, ohlc, None)
    first = next(iter(per_symbol.values()))
    settings = dict(first.settings)
    settings["cash"] = sum(r.settings.get("cash", 0.0) for r in per_symbol.values())
    return Result(
        stats,
        symbol=",".join(per_symbol),
        strategy_name=strategy_name,
        open_trades=sum(r.open_trades for r in per_symbol.values()),
        alerts=_combined_alerts(per_symbol),
        settings=settings,
    )


def _combined_alerts(per_symbol: dict[str, Result]):
    """The symbols' alerts one after another, each tagged with its symbol."""
    parts = {s: r.alerts for s, r in per_symbol.items()}
    if all(isinstance(a, Alerts) and a.symbols is None for a in parts.values()):
        return Alerts.concat(parts)
    return [dict(a, symbol=s) for s, alerts in parts.items() for a in alerts]


def result_dict(outcome: RunOutcome, *, alerts: str = "summary") -> dict:
    """The JSON ``BacktestResult`` for an outcome: metrics, trades, daily/symbol stats,
    config, and the alerts as a summary (default) or in ``"full"``."""
    if alerts not in ALERT_MODES:
        raise ConfigError(
            f"alerts={alerts!r}: give one of {', '.join(ALERT_MODES)}", field="alerts"
        )
    cfg = outcome.config
    trades_by_symbol = {s: r.trades for s, r in outcome.per_symbol.items()}
    out = backtest_result(
        outcome.result.stats,
        symbol=",".join(cfg.symbol_list),
        strategy_name=outcome.strategy_name,
        trades_by_symbol=trades_by_symbol,
        initial_capital=cfg.initial_capital,
        timeframe=cfg.interval,
        period=cfg.period or ("custom" if cfg.start_date else None),
        commission=cfg.commission,
    )
    if len(cfg.symbol_list) > 1:
        out["symbols"] = list(cfg.symbol_list)
        out["per_symbol"] = {
            s: {
                k: v
                for k, v in backtest_result(
                    r.stats,
                    symbol=s,
                    strategy_name=outcome.strategy_name,
                    initial_capital=r.settings.get("cash"),
                    timeframe=cfg.interval,
                    commission=cfg.commission,
                ).items()
                if k not in ("trades", "equity_curve", "daily_stats")
            }
            for s, r in outcome.per_symbol.items()
        }
    out["strategy_id"] = cfg.strategy_id
    out["kind"] = outcome.kind
    out["provenance"] = outcome.provenance
    out["alerts"] = alerts_json(outcome.result.alerts, alerts)
    return out
