"""The ``algobt`` command.

    algobt run --symbol DEMO --strategy examples/sma_cross.py --period 5y
    algobt run --symbol DEMO --json            # SPEC's BacktestResult as JSON
    python -m algobt run ...                    # the same

Errors of ours (bad symbol, bad setting, a strategy that raises) print one
clear line on stderr and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import sys
from pathlib import Path

import pandas as pd

from algobt.errors import AlgobtError, ConfigError


def _load_strategy(spec: str | None, class_name: str | None):
    """A Strategy subclass from a ``.py`` file, or the built-in SmaCross by default."""
    from algobt.engine.strategy import Strategy

    if spec is None:
        from algobt.examples import SmaCross

        return SmaCross
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(
            f"strategy file {spec!r} not found; give the path of a .py file "
            "that defines a subclass of algobt.Strategy",
            field="strategy",
        )
    module_spec = importlib.util.spec_from_file_location(f"_algobt_user_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}:{exc.offset}: syntax error: {exc.msg}", field="strategy"
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"loading {path} failed: {type(exc).__name__}: {exc}", field="strategy"
        ) from None
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
    ]
    if class_name:
        for cls in found:
            if cls.__name__ == class_name:
                return cls
        raise ConfigError(
            f"{path} has no Strategy class {class_name!r}; it has {[c.__name__ for c in found]}",
            field="class",
        )
    if not found:
        raise ConfigError(f"{path} defines no subclass of algobt.Strategy", field="strategy")
    if len(found) > 1:
        raise ConfigError(
            f"{path} defines several strategies {[c.__name__ for c in found]}; "
            "pick one with --class NAME",
            field="class",
        )
    return found[0]


def _parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"--param {pair!r}: write it as name=value, e.g. fast=10", field="param"
            )
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def format_stats(stats: pd.Series) -> str:
    """The public stats as an aligned two-column table (no ``_`` entries)."""
    public = stats[[k for k in stats.index if not str(k).startswith("_")]]
    width = max(len(str(k)) for k in public.index)
    lines = []
    for key, value in public.items():
        if isinstance(value, float):
            text = f"{value:,.4f}".rstrip("0").rstrip(".") if value == value else "n/a"
        else:
            text = str(value)
        lines.append(f"{key:<{width}}  {text:>20}")
    return "\n".join(lines)


def _run(args) -> int:
    from algobt.engine.backtest import Backtest
    from algobt.engine.data import load

    strategy = _load_strategy(args.strategy, args.class_name)
    if args.data:
        data = load(
            args.data,
            period=args.period,
            start_date=args.start,
            end_date=args.end,
            interval=args.interval,
        )
        symbol = Path(args.data).stem
    else:
        data = load(
            args.symbol,
            period=args.period,
            start_date=args.start,
            end_date=args.end,
            interval=args.interval,
        )
        symbol = args.symbol
    commission = args.commission
    if args.commission_fixed:
        commission = (args.commission_fixed, args.commission)
    bt = Backtest(
        data,
        strategy,
        cash=args.cash,
        commission=commission,
        spread=args.spread,
        slippage=args.slippage,
        lot_size=args.lot_size,
        margin=args.margin,
        trade_on_close=args.trade_on_close,
        hedging=args.hedging,
        exclusive_orders=args.exclusive_orders,
        finalize_trades=not args.keep_open,
        symbol=symbol,
    )
    result = bt.run(**_parse_params(args.param))
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False, indent=2))
    else:
        print(f"{result.strategy_name} on {symbol} ({args.interval}, {len(data)} bars)")
        print(format_stats(result))
    return 0


def _serve(args) -> int:
    import asyncio

    from algobt.server.app import run_forever, serve

    async def main():
        server = serve(
            port=args.port,
            host=args.host,
            db=args.db,
            token=args.token,
            allow_remote=args.allow_remote,
            allow_files=args.allow_files,
            quiet=True,
        )
        print(f"algobt server on database {server.store.path}")
        print(f"open {server.url}")
        print("stop with Ctrl-C", flush=True)
        try:
            await run_forever(server)
        finally:
            server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="algobt", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="backtest a strategy and print its stats")
    run.add_argument(
        "--symbol",
        default="DEMO",
        help="DEMO, DEMO-FX, DEMO-BTC (bundled) or a Yahoo ticker (default DEMO)",
    )
    run.add_argument("--data", help="a CSV or Parquet file of OHLCV bars instead of --symbol")
    run.add_argument(
        "--strategy",
        help="a .py file defining an algobt.Strategy subclass (default: the built-in SmaCross)",
    )
    run.add_argument("--class", dest="class_name", help="which class, if the file has several")
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a strategy parameter; repeatable",
    )
    run.add_argument("--period", default=None, help="1y, 6mo, 5y, max, ... (default: all data)")
    run.add_argument("--start", help="start date yyyy-MM-dd (with --end: a custom range)")
    run.add_argument("--end", help="end date yyyy-MM-dd")
    run.add_argument("--interval", default="1d", help="1m 5m 15m 30m 1h 4h 1d 1w (default 1d)")
    run.add_argument("--cash", type=float, default=10_000, help="starting capital (10000)")
    run.add_argument(
        "--commission",
        type=float,
        default=0.001,
        help="fraction of traded value per side (0.001 = 0.1%%)",
    )
    run.add_argument(
        "--commission-fixed",
        type=float,
        default=0.0,
        help="fixed cash commission per fill, added to the rate",
    )
    run.add_argument("--spread", type=float, default=0.0, help="bid-ask spread fraction")
    run.add_argument(
        "--slippage",
        type=float,
        default=0.0005,
        help="fraction every fill moves against you (0.0005)",
    )
    run.add_argument("--lot-size", type=float, default=1, help="quantity step (1)")
    run.add_argument("--margin", type=float, default=1.0, help="margin ratio (1 = no leverage)")
    run.add_argument("--trade-on-close", action="store_true", help="fill at the signal bar's close")
    run.add_argument("--hedging", action="store_true", help="allow long and short at once")
    run.add_argument(
        "--exclusive-orders", action="store_true", help="each order closes the open position first"
    )
    run.add_argument(
        "--keep-open",
        action="store_true",
        help="leave trades open at the end (default: close them on the last bar)",
    )
    run.add_argument("--json", action="store_true", help="print the BacktestResult as JSON")
    run.set_defaults(func=_run)

    srv = sub.add_parser("serve", help="serve the REST API, the WebSocket stream and the page")
    srv.add_argument("--port", type=int, default=8765, help="TCP port (8765; 0 = any free)")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    srv.add_argument("--db", help="SQLite file (default ~/.algobt/algobt.db; ALGOBT_HOME)")
    srv.add_argument("--token", help="the access token (default: a new random one)")
    srv.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (needs --token)"
    )
    srv.add_argument(
        "--allow-files",
        action="store_true",
        help="let requests name CSV/Parquet files on this machine as symbols",
    )
    srv.set_defaults(func=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AlgobtError as exc:
        print(f"algobt: error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
