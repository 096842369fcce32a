"""Generate algobt's bundled demo market data: ``python scripts/make_demo_data.py [OUT_DIR]``.

The output (default ``algobt/engine/data/demo/``) is committed, so users get
realistic bars offline and every run of a backtest on ``DEMO`` gives the same
numbers. This script is the only way those files are made; the test suite
re-runs it into a temporary directory and checks it reproduces them.

How the bars are made (all synthetic, no real quotes; fixed numpy seed):

1. A calendar of sessions: NYSE-like business days for ``DEMO`` (09:30-16:00
   New York), Monday-Friday for ``DEMO-FX`` (each session runs from 17:00
   New York the evening before, the FX convention), every day for ``DEMO-BTC``
   (00:00-24:00 UTC).
2. One return per session: a Markov chain of regimes (calm bull, normal,
   correction, crisis, each with its own drift and volatility), stochastic
   log-volatility with a leverage effect (down days raise tomorrow's
   volatility: volatility clustering), Student-t shocks, overnight gaps and
   rare jumps. A constant drift correction makes each path end near a chosen
   price, so the levels look like the asset they imitate.
3. Inside each session, a one-minute path that is a bridge to exactly that
   session's return, with a U-shaped (or, for FX, a London/New York) intraday
   volatility profile, wicks for every minute, prices rounded to the tick, and
   volumes that rise with the size of the move.
4. Daily bars (stamped at midnight UTC of the session date), 1h bars (last two
   years, stamped at their UTC start, NYSE hours anchored at 09:30 New York) and
   1m bars (last 30 sessions) are all aggregated from the same minute path, so
   they agree with each other exactly.

Files: ``<SYMBOL>_<interval>.parquet`` (zstd; prices as integer ticks, see
``write_ticks``) plus ``manifest.json``, which ``algobt.engine.data.demo`` reads
to list what is available and to turn ticks back into prices.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.tseries.holiday import (
    AbstractHolidayCalendar,
    GoodFriday,
    Holiday,
    USLaborDay,
    USMartinLutherKingJr,
    USMemorialDay,
    USPresidentsDay,
    USThanksgivingDay,
    nearest_workday,
    sunday_to_monday,
)

SEED = 20_241_231
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "algobt" / "engine" / "data" / "demo"
HOURLY_DAYS = 730  # 1h bars for sessions in the last two years
MINUTE_SESSIONS = 30  # 1m bars for the last 30 sessions
CHUNK = 64  # sessions per block of minute paths (bounds memory)


@dataclass(frozen=True)
class Regime:
    """A market state: annual log drift and volatility, and its mean length in sessions."""

    drift: float
    vol: float
    mean_days: float


@dataclass(frozen=True)
class Market:
    """Everything that makes one demo symbol look like the asset it imitates."""

    symbol: str
    name: str
    description: str
    asset_class: str
    currency: str
    calendar: str  # "nyse" | "fx" | "crypto"
    first_day: str
    last_day: str
    start_price: float
    end_price: float  # the path is steered to end near here
    tick: float
    regimes: tuple[Regime, ...]
    switch: tuple[tuple[float, ...], ...]  # where a regime goes when it ends (rows sum to 1)
    sessions_per_year: int
    overnight_share: float  # share of a session's variance that arrives as the opening gap
    jump_prob: float  # chance per session of a jump (earnings, news), in sigmas ``jump_size``
    jump_size: float
    volume_start: float  # typical volume per session at the first and last session
    volume_end: float
    intervals: tuple[str, ...] = ("1d", "1h", "1m")
    trades_weekends: bool = field(default=False)


MARKETS = (
    Market(
        symbol="DEMO",
        name="Demo equity index",
        description="Synthetic US equity index: NYSE sessions 09:30-16:00 New York, "
        "bull markets, corrections and crashes, overnight gaps.",
        asset_class="equity",
        currency="USD",
        calendar="nyse",
        first_day="2010-01-04",
        last_day="2024-12-31",
        start_price=100.0,
        end_price=420.0,
        tick=0.01,
        regimes=(
            Regime(0.18, 0.11, 180),
            Regime(0.07, 0.16, 120),
            Regime(-0.25, 0.28, 40),
            Regime(-0.70, 0.55, 12),
        ),
        switch=(
            (0.0, 0.72, 0.24, 0.04),
            (0.55, 0.0, 0.37, 0.08),
            (0.30, 0.52, 0.0, 0.18),
            (0.10, 0.30, 0.60, 0.0),
        ),
        sessions_per_year=252,
        overnight_share=0.25,
        jump_prob=0.012,
        jump_size=3.0,
        volume_start=9.0e7,
        volume_end=6.0e7,
    ),
    Market(
        symbol="DEMO-FX",
        name="Demo EUR/USD",
        description="Synthetic EURUSD-like currency pair: trades 24 hours Monday to Friday, "
        "sessions roll at 17:00 New York, 5-decimal prices, tick volume.",
        asset_class="fx",
        currency="USD",
        calendar="fx",
        first_day="2010-01-04",
        last_day="2024-12-31",
        start_price=1.4413,
        end_price=1.0354,
        tick=0.00001,
        regimes=(
            Regime(0.00, 0.055, 160),
            Regime(-0.06, 0.085, 120),
            Regime(0.05, 0.080, 100),
            Regime(-0.12, 0.140, 25),
        ),
        switch=(
            (0.0, 0.45, 0.45, 0.10),
            (0.50, 0.0, 0.35, 0.15),
            (0.55, 0.35, 0.0, 0.10),
            (0.30, 0.50, 0.20, 0.0),
        ),
        sessions_per_year=260,
        overnight_share=0.0,
        jump_prob=0.004,
        jump_size=3.0,
        volume_start=1.2e5,
        volume_end=2.0e5,
    ),
    Market(
        symbol="DEMO-BTC",
        name="Demo Bitcoin (per 0.01 BTC)",
        description="Synthetic BTC-USD-like crypto asset: trades every day around the clock "
        "(weekends included), booms and busts. Quoted per 0.01 coin (volume in those units) "
        "so a $10,000 account can trade it in whole units.",
        asset_class="crypto",
        currency="USD",
        calendar="crypto",
        first_day="2014-09-17",
        last_day="2024-12-31",
        # BTC-USD's levels / 100: whole-unit orders (backtesting.py's rule) stay possible.
        start_price=4.5733,
        end_price=934.30,
        tick=0.0001,
        regimes=(
            Regime(1.40, 0.60, 150),
            Regime(0.15, 0.50, 120),
            Regime(-0.90, 0.75, 110),
            Regime(-3.50, 1.30, 10),
        ),
        switch=(
            (0.0, 0.60, 0.30, 0.10),
            (0.45, 0.0, 0.45, 0.10),
            (0.25, 0.65, 0.0, 0.10),
            (0.10, 0.40, 0.50, 0.0),
        ),
        sessions_per_year=365,
        overnight_share=0.0,
        jump_prob=0.01,
        jump_size=2.5,
        volume_start=4.0e6,
        volume_end=3.0e7,
        trades_weekends=True,
    ),
)


class _NyseHolidays(AbstractHolidayCalendar):
    rules = [
        Holiday("New Year's Day", month=1, day=1, observance=sunday_to_monday),
        USMartinLutherKingJr,
        USPresidentsDay,
        GoodFriday,
        USMemorialDay,
        Holiday("Juneteenth", month=6, day=19, start_date="2022-01-01", observance=nearest_workday),
        Holiday("Independence Day", month=7, day=4, observance=nearest_workday),
        USLaborDay,
        USThanksgivingDay,
        Holiday("Christmas", month=12, day=25, observance=nearest_workday),
    ]


def sessions(market: Market) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex, int]:
    """Session dates (naive), their UTC opening times, and minutes per session."""
    first, last = market.first_day, market.last_day
    if market.calendar == "crypto":
        dates = pd.date_range(first, last, freq="D")
        return dates, dates.tz_localize("UTC"), 1440
    dates = pd.bdate_range(first, last)
    if market.calendar == "nyse":
        dates = dates[~dates.isin(_NyseHolidays().holidays(first, last))]
        opens = (dates + pd.Timedelta(hours=9, minutes=30)).tz_localize("America/New_York")
        return dates, opens.tz_convert("UTC"), 390
    new_year = (dates.month == 1) & (dates.day == 1)
    christmas = (dates.month == 12) & (dates.day == 25)
    dates = dates[~(new_year | christmas)]
    opens = (dates - pd.Timedelta(hours=7)).tz_localize("America/New_York")  # 17:00 the day before
    return dates, opens.tz_convert("UTC"), 1440


def intraday_profile(market: Market, minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-minute shares of a session's variance and of its volume (each sums to 1)."""
    t = np.arange(minutes, dtype="float64")
    if market.calendar == "nyse":
        # Busy open and close, quiet lunch: the U shape of equity markets.
        var = 1.0 + 2.5 * np.exp(-t / 30.0) + 1.2 * np.exp(-(minutes - 1 - t) / 25.0)
        vol = 1.0 + 3.0 * np.exp(-t / 25.0) + 2.5 * np.exp(-(minutes - 1 - t) / 20.0)
    elif market.calendar == "fx":
        hour_ny = (17 + t / 60.0) % 24  # session starts 17:00 New York
        london = (hour_ny >= 2) & (hour_ny < 12)
        overlap = (hour_ny >= 8) & (hour_ny < 12)
        var = 0.45 + 0.8 * london + 0.9 * overlap + 0.3 * ((hour_ny >= 12) & (hour_ny < 16))
        vol = var.copy()
    else:
        hour = t / 60.0
        var = 1.0 + 0.35 * np.sin((hour - 10.0) / 24.0 * 2 * np.pi)
        vol = var.copy()
    return var / var.sum(), vol / vol.sum()


def session_returns(market: Market, n: int, gaps_after: np.ndarray, rng: np.random.Generator):
    """Per-session (opening gap, intraday return, sigma, volume), all as log/absolute arrays."""
    regimes = market.regimes
    state = np.empty(n, dtype=np.int64)
    state[0] = 1
    stay = np.array([1.0 - 1.0 / r.mean_days for r in regimes])
    u_stay = rng.random(n)
    u_next = rng.random(n)
    cum_switch = np.cumsum(np.array(market.switch), axis=1)
    for i in range(1, n):
        s = state[i - 1]
        state[i] = s if u_stay[i] < stay[s] else int(np.searchsorted(cum_switch[s], u_next[i]))

    per_year = market.sessions_per_year
    drift = np.array([r.drift for r in regimes])[state] / per_year
    base_sigma = np.array([r.vol for r in regimes])[state] / np.sqrt(per_year)

    dof = 5.0
    shocks = rng.standard_t(dof, n) / np.sqrt(dof / (dof - 2.0))
    vol_noise = rng.standard_normal(n)
    phi, eta, leverage = 0.96, 0.09, 0.06
    log_vol = np.zeros(n)
    for i in range(1, n):
        # Down days raise tomorrow's volatility: clustering with a leverage effect.
        log_vol[i] = phi * log_vol[i - 1] + eta * vol_noise[i] - leverage * shocks[i - 1]
    sigma = base_sigma * np.exp(log_vol - log_vol.var() / 2.0)

    jumps = (rng.random(n) < market.jump_prob) * rng.standard_normal(n) * market.jump_size * sigma
    gap_noise = rng.standard_normal(n)
    # Longer closures (weekends, holidays) let more news in before the open.
    gap_share = market.overnight_share + 0.03 * (gaps_after - 1)
    gap = np.sqrt(np.clip(gap_share, 0.0, 1.0)) * sigma * gap_noise
    intraday = np.sqrt(1.0 - np.clip(gap_share, 0.0, 1.0)) * sigma * shocks
    if market.overnight_share > 0:
        gap += jumps
    else:
        intraday += jumps
    intraday += drift - sigma**2 / 2.0
    gap[0] = 0.0

    # Steer the whole path to end near end_price without touching its shape.
    target = np.log(market.end_price / market.start_price)
    intraday += (target - gap.sum() - intraday.sum()) / n

    trend = np.geomspace(market.volume_start, market.volume_end, n)
    activity = 1.0 + 1.2 * np.abs(gap + intraday - drift) / sigma
    volume = trend * np.exp(0.25 * rng.standard_normal(n)) * activity / activity.mean()
    return gap, intraday, sigma, volume


def minute_bars(market, gap, intraday, sigma, volume, var_w, vol_w, rng):
    """Yield blocks of one-minute OHLCV arrays, shape (sessions, minutes), session by session."""
    minutes = len(var_w)
    tick = market.tick
    last_close = market.start_price
    for lo in range(0, len(gap), CHUNK):
        hi = min(lo + CHUNK, len(gap))
        k = hi - lo
        step_sd = sigma[lo:hi, None] * np.sqrt(var_w)[None, :]
        steps = step_sd * rng.standard_normal((k, minutes))
        # Bridge: nudge the minutes so they add up to exactly the session's return.
        steps -= var_w[None, :] * (steps.sum(axis=1) - intraday[lo:hi])[:, None]
        wick_up = np.abs(rng.standard_normal((k, minutes))) * 0.6 * step_sd
        wick_down = np.abs(rng.standard_normal((k, minutes))) * 0.6 * step_sd
        vol_noise = np.exp(0.45 * rng.standard_normal((k, minutes)))

        opens_log = np.log(last_close) + np.cumsum(gap[lo:hi] + intraday[lo:hi]) - intraday[lo:hi]
        path = opens_log[:, None] + np.cumsum(steps, axis=1)
        close = _to_tick(np.exp(path), tick)
        open_ = np.empty_like(close)
        open_[:, 0] = _to_tick(np.exp(opens_log), tick)
        open_[:, 1:] = close[:, :-1]
        high = np.maximum(_to_tick(np.maximum(open_, close) * np.exp(wick_up), tick), open_)
        high = np.maximum(high, close)
        low = np.minimum(_to_tick(np.minimum(open_, close) * np.exp(-wick_down), tick), open_)
        low = np.maximum(np.minimum(low, close), tick)
        vol = np.round(volume[lo:hi, None] * vol_w[None, :] * vol_noise / 1.106)
        last_close = float(np.exp(path[-1, -1]))
        yield lo, open_, high, low, close, vol


def _to_tick(price: np.ndarray, tick: float) -> np.ndarray:
    # Divide rather than multiply by 1/tick so 0.01-ticks print as 101.23, not 101.23000000000002.
    return np.round(price / tick) / round(1 / tick)


def aggregate(open_, high, low, close, vol, starts: np.ndarray):
    """OHLCV of consecutive column groups beginning at ``starts``, for every session row."""
    return (
        open_[:, starts],
        np.maximum.reduceat(high, starts, axis=1),
        np.minimum.reduceat(low, starts, axis=1),
        close[:, np.r_[starts[1:] - 1, close.shape[1] - 1]],
        np.add.reduceat(vol, starts, axis=1),
    )


def build(market: Market, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """All bars of one market: ``{"1d": ..., "1h": ..., "1m": ...}`` in algobt's frame shape."""
    rng = np.random.default_rng([seed, MARKETS.index(market)])
    dates, opens_utc, minutes = sessions(market)
    n = len(dates)
    gaps_after = np.r_[1, np.diff(dates.values).astype("timedelta64[D]").astype(int)]
    gap, intraday, sigma, volume = session_returns(market, n, gaps_after, rng)
    var_w, vol_w = intraday_profile(market, minutes)

    hour_starts = np.arange(0, minutes, 60)
    hourly_from = np.searchsorted(dates, dates[-1] - pd.Timedelta(days=HOURLY_DAYS - 1))
    minute_from = n - MINUTE_SESSIONS
    daily = np.empty((n, 5))
    hourly, one_minute = [], []
    for lo, o, h, lw, c, v in minute_bars(market, gap, intraday, sigma, volume, var_w, vol_w, rng):
        k = len(o)
        daily[lo : lo + k] = np.column_stack(aggregate(o, h, lw, c, v, np.array([0])))
        if lo + k > hourly_from:
            first = max(hourly_from - lo, 0)
            parts = aggregate(o[first:], h[first:], lw[first:], c[first:], v[first:], hour_starts)
            hourly.append((lo + first, np.stack(parts, axis=-1)))
        if lo + k > minute_from:
            first = max(minute_from - lo, 0)
            one_minute.append((lo + first, np.stack([o, h, lw, c, v], axis=-1)[first:]))

    frames = {"1d": _frame(daily, dates.tz_localize("UTC"))}
    frames["1h"] = _intraday_frame(hourly, opens_utc, hour_starts)
    frames["1m"] = _intraday_frame(one_minute, opens_utc, np.arange(minutes))
    return {name: frames[name] for name in market.intervals}


def _intraday_frame(blocks, opens_utc: pd.DatetimeIndex, offsets_min: np.ndarray) -> pd.DataFrame:
    first = blocks[0][0]
    values = np.concatenate([b for _, b in blocks])  # (sessions, bars, 5)
    starts = opens_utc[first : first + len(values)]
    stamps = starts.as_unit("ns").asi8[:, None] + offsets_min[None, :] * 60 * 10**9
    index = pd.DatetimeIndex(stamps.ravel().astype("datetime64[ns]")).tz_localize("UTC")
    return _frame(values.reshape(-1, 5), index)


def _frame(values: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=["Open", "High", "Low", "Close", "Volume"])
    frame.index = index.as_unit("ns").rename("Date")
    return frame


def ticks_per_unit(market: Market) -> int:
    """How many ticks make one unit of price (100 for cents, 100000 for 5-decimal FX)."""
    return round(1 / market.tick)


def write_ticks(frame: pd.DataFrame, path: Path, per_unit: int) -> None:
    """Store ``frame`` with prices as integer ticks and integer volume (Parquet, zstd).

    Whole numbers with delta encoding take about a third of the room of float64
    columns, and they are exact: the loader's ``ticks / per_unit`` gives back
    the very float64 values generated here.
    """
    columns = {c: np.round(frame[c].to_numpy() * per_unit).astype("int64") for c in frame}
    columns["Volume"] = frame["Volume"].to_numpy().astype("int64")
    table = pa.Table.from_pandas(pd.DataFrame(columns, index=frame.index))
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=9,
        use_dictionary=False,
        column_encoding={name: "DELTA_BINARY_PACKED" for name in table.column_names},
    )


def _stamp(ts: pd.Timestamp, intraday: bool) -> str:
    # The API's stamp formats: "2024-01-02" for daily bars, "2024-01-02T14:30:00Z" intraday.
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ" if intraday else "%Y-%m-%d")


def main(argv: list[str] | None = None) -> Path:
    """Write every market's Parquet files and ``manifest.json`` into OUT_DIR; return OUT_DIR."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "generator": "scripts/make_demo_data.py",
        "seed": SEED,
        "note": "Synthetic data, not real quotes. Regenerate with the script above.",
        "symbols": [],
    }
    for market in MARKETS:
        files = {}
        for interval, frame in build(market).items():
            name = f"{market.symbol}_{interval}.parquet"
            write_ticks(frame, out / name, ticks_per_unit(market))
            files[interval] = {
                "file": name,
                "start": _stamp(frame.index[0], interval != "1d"),
                "end": _stamp(frame.index[-1], interval != "1d"),
                "bars": len(frame),
            }
        manifest["symbols"].append(
            {
                "symbol": market.symbol,
                "name": market.name,
                "description": market.description,
                "asset_class": market.asset_class,
                "currency": market.currency,
                "tick_size": market.tick,
                "ticks_per_unit": ticks_per_unit(market),
                "trades_weekends": market.trades_weekends,
                "files": files,
            }
        )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


if __name__ == "__main__":
    print(f"wrote {main()}")
