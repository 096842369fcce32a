"""The ``algobt`` command.

    algobt demo                                 # a demo strategy on demo data, its stats
    algobt run --symbol DEMO --strategy examples/sma_cross.py --period 5y
    algobt run --strategy my_rules.json         # a JSON rule spec runs too
    algobt run --symbol DEMO --json             # the BacktestResult (docs/api.md) as JSON
    python -m algobt run ...                    # the same

``algobt run`` builds a ``RunConfig`` and runs it through ``run_config``, the
pipeline the server runs, so a run gives the same numbers from either face. A
strategy file is Python source or a JSON rule spec, told apart by its content
(as the server does), whatever its name.

Errors of ours (bad symbol, bad setting, a strategy that raises) print one
clear line on stderr and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pandas as pd

from algobt.errors import AlgobtError, ConfigError, StrategyError


def _strategy_settings(spec: str | None, class_name: str | None) -> dict:
    """The RunConfig fields naming the strategy: a file's Python or JSON, or SmaCross."""
    if spec is None:
        if class_name:
            raise ConfigError("--class picks a class in a --strategy file", field="class")
        from algobt.examples import SmaCross

        return {"strategy": SmaCross}
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(
            f"strategy file {spec!r} not found; give the path of a Python file that defines "
            "a subclass of algobt.Strategy, or of a JSON rule spec",
            field="strategy",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", field="strategy") from None
    from algobt.engine.detect import detect_kind

    if detect_kind(text) == "json":
        if class_name:
            raise ConfigError(f"{path} is a JSON rule spec: it has no classes", field="class")
        from algobt.engine.rules import parse_spec

        try:
            parse_spec(text)  # checked here too, so errors can name the file
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.message}", field=exc.field) from None
        return {"strategy_code": text}
    from algobt.engine.run import strategy_from_source

    try:
        # Compiled here, not in run_config, so errors can name the file.
        cls = strategy_from_source(text, str(path), class_name)
    except StrategyError as exc:
        raise StrategyError(f"{path}: {exc.message}") from None
    return {"strategy": cls, "strategy_code": text}


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


def _config(args):
    """The RunConfig of ``algobt run``'s arguments."""
    from algobt.engine.config import RunConfig

    symbol = Path(args.data).stem if args.data else args.symbol
    settings = dict(
        period=args.period,
        start_date=args.start,
        end_date=args.end,
        interval=args.interval,
        initial_capital=args.cash,
        commission=args.commission,
        spread=args.spread,
        slippage=args.slippage,
        lot_size=args.lot_size,
        margin=args.margin,
        trade_on_close=args.trade_on_close,
        hedging=args.hedging,
        exclusive_orders=args.exclusive_orders,
        finalize_trades=not args.keep_open,
        params=_parse_params(args.param),
        **_strategy_settings(args.strategy, args.class_name),
    )
    if "," in symbol and not args.data:
        settings["symbols"] = symbol
    else:
        settings["symbol"] = symbol
    return RunConfig.from_dict(settings)


def _run(args) -> int:
    from algobt.engine.run import load_for, run_config

    cfg = _config(args)
    data = {cfg.symbol: load_for(cfg, args.data)} if args.data else None
    try:
        outcome = run_config(cfg, data)
    except ConfigError as exc:
        if getattr(exc, "expected", None) == "number" and exc.field in cfg.params:
            got = cfg.params[exc.field]
            raise ConfigError(
                f"--param {exc.field} must be a number (got {got!r}); the strategy's "
                f"default is {exc.default!r}",
                field="param",
            ) from None
        raise
    _report(outcome, as_json=args.json)
    return 0


def _report(outcome, *, as_json: bool) -> None:
    """Print a finished run: the BacktestResult as JSON, or a title and the stats table."""
    if as_json:
        print(json.dumps(outcome.to_dict(), allow_nan=False, indent=2))
        return
    cfg = outcome.config
    bars = sum(len(frame) for frame in outcome.data.values())
    symbols = ",".join(cfg.symbol_list)
    print(f"{outcome.strategy_name} on {symbols} ({cfg.interval}, {bars} bars)")
    print(format_stats(outcome.result))
    alerts = outcome.to_dict().get("alerts") or []
    if alerts:
        print()
    for alert in alerts:  # one line per kind: what the broker said rather than failed on
        count = alert.get("count", 1)
        times = f" ({count} times)" if count > 1 else ""
        print(f"{alert.get('level', 'warning')}: {alert['message']}{times}")


def _demo(args) -> int:
    from algobt.engine.run import run_config
    from algobt.examples import SmaCross

    outcome = run_config({"symbol": args.symbol, "strategy": SmaCross})
    _report(outcome, as_json=args.json)
    if not args.json:
        print(
            "\nNext: algobt run --strategy examples/sma_cross.py --period 5y "
            "(your own strategy file), or algobt serve (the web page)"
        )
    return 0


def _serve(args) -> int:
    import asyncio

    from algobt.server.app import run_forever, serve, stop_on_signals

    async def main():
        server = serve(
            port=args.port,
            host=args.host,
            db=args.db,
            token=args.token,
            allow_remote=args.allow_remote,
            allow_files=args.allow_files,
            allow_origins=args.allow_origin,
            quiet=True,
        )
        # Our own handlers: an inherited ignored SIGINT (``nohup … &``) must still stop us.
        stop_on_signals(server, asyncio.get_running_loop())
        print(f"algobt server on database {server.store.path}")
        print(f"open {server.url}")
        for origin in args.allow_origin:
            print(f"CORS: pages on {origin} may call this API")
        print("stop with Ctrl-C (SIGINT) or SIGTERM", flush=True)
        try:
            await run_forever(server)
        finally:
            server.stop()
        print("algobt server stopped", flush=True)

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
        help="DEMO, DEMO-FX, DEMO-BTC (bundled) or a Yahoo ticker (default DEMO); "
        "several, comma-separated, split the capital equally",
    )
    run.add_argument("--data", help="a CSV or Parquet file of OHLCV bars instead of --symbol")
    run.add_argument(
        "--strategy",
        help="a Python file defining an algobt.Strategy subclass, or a JSON rule spec "
        "(told apart by content; default: the built-in SmaCross)",
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

    demo = sub.add_parser("demo", help="run a demo strategy on demo data and print its stats")
    demo.add_argument(
        "--symbol",
        default="DEMO",
        choices=("DEMO", "DEMO-FX", "DEMO-BTC"),
        help="which bundled demo data (DEMO: a stock, DEMO-FX, DEMO-BTC)",
    )
    demo.add_argument("--json", action="store_true", help="print the BacktestResult as JSON")
    demo.set_defaults(func=_demo)

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
    srv.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let pages served from ORIGIN (exact, e.g. http://localhost:3000) call the API "
        "from a browser (CORS); repeatable; default: same origin only",
    )
    srv.set_defaults(func=_serve)
    return parser


def _periods(match: re.Match) -> str:
    return "--period " + " or ".join(re.findall(r"'([^']+)'", match.group(1)))


def cli_words(message: str) -> str:
    """An engine message in the command line's words: ``--start``, not ``start_date``.

    >>> cli_words("start_date '1990-01-01' is before that. Ask for period='1y' or '2y'")
    "--start '1990-01-01' is before that. Ask for --period 1y or 2y"
    """
    message = re.sub(r"period=('[^']+'(?: or '[^']+')*)", _periods, message)
    for word, flag in (("start_date", "--start"), ("end_date", "--end")):
        message = re.sub(rf"\b{word}\b", flag, message)
    return message.replace("(list_symbols() shows every symbol's ranges)", "").rstrip()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AlgobtError as exc:
        print(f"algobt: error: {cli_words(exc.message)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader left (``algobt demo | head``): not an error
        sys.stdout = None
        return 0


if __name__ == "__main__":
    sys.exit(main())
