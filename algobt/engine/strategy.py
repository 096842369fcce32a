"""The class API: subclass ``Strategy``, declare indicators in ``init()``, trade in ``next()``.

Shaped like backtesting.py's so its strategies run with only the import
changed::

    from algobt import Strategy
    from algobt.lib import SMA, crossover

    class SmaCross(Strategy):
        fast = 10          # parameters are class attributes
        slow = 30

        def init(self):
            self.sma_fast = self.I(SMA, self.data.Close, self.fast)
            self.sma_slow = self.I(SMA, self.data.Close, self.slow)

        def next(self):
            if crossover(self.sma_fast, self.sma_slow):
                self.position.close()
                self.buy()

Inside ``next()`` every array (``self.data.Close``, each indicator) ends at
the current bar: ``[-1]`` is now, and there is no later element to peek at, so
look-ahead is impossible by construction.
"""

from __future__ import annotations

import copy
import sys
from difflib import get_close_matches
from numbers import Number
from operator import attrgetter

import numpy as np
import pandas as pd

from algobt.engine.data.frame import COLUMNS
from algobt.errors import ConfigError, StrategyError

#: ``buy()``/``sell()``'s default size, "all in": all of the equity, kept just under 1
#: so it stays a fraction of equity (1 would mean one unit). The fast path and the rule
#: specs use the same constant.
ALL_IN = 1 - sys.float_info.epsilon

# What an array without metadata of its own or of a base (a selection by mask or by
# positions) reports; ``_opts`` is a fresh ``{}``.
_NO_METADATA = {"name": "", "_index": None}


class SeriesArray(np.ndarray):
    """A float ndarray that remembers its ``name`` and the time ``index`` it came from.

    ``.s`` gives it back as a pandas Series, ``.df`` as a DataFrame.
    """

    # No ``__array_finalize__``: numpy would call it, in Python, on every slice, and the
    # run loop cuts several slices per bar. The metadata stays on the array it was given
    # to; a slice (a view) finds it through ``.base`` (see ``__getattr__``), a ufunc
    # result and a copy get theirs in ``__array_wrap__`` and ``copy``. Arrays numpy
    # builds by other routes (a selection by mask or by positions) come without.

    def __new__(cls, values, *, name="", index=None, **opts):
        obj = np.asarray(values).view(cls)
        obj.name = name
        obj._index = index
        obj._opts = opts
        return obj

    def __getattr__(self, key):
        # Reached only when ``key`` is not on this array itself: ask the array it views.
        if not key.startswith("__"):
            base = self.base
            if isinstance(base, SeriesArray):
                return getattr(base, key)
            if key == "_opts":
                return {}
            if key in _NO_METADATA:
                return _NO_METADATA[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def _metadata(self) -> dict:
        """This array's own attributes, or those of the array it views."""
        array = self
        while not array.__dict__:
            base = array.base
            if not isinstance(base, SeriesArray):
                return {"name": self.name, "_index": self._index, "_opts": self._opts}
            array = base
        return array.__dict__

    def __array_wrap__(self, array, context=None, return_scalar=False):
        out = super().__array_wrap__(array, context, return_scalar)
        if isinstance(out, SeriesArray) and out is not self and not out.__dict__:
            out.__dict__.update(self._metadata())
        return out

    def copy(self, order="C"):
        out = super().copy(order)
        out.__dict__.update(self._metadata())
        return out

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        out = super().__deepcopy__(memo)
        out.__dict__.update(copy.deepcopy(self._metadata(), memo))
        return out

    def astype(self, dtype, *args, **kwargs):
        out = super().astype(dtype, *args, **kwargs)
        if isinstance(out, SeriesArray) and out is not self and not out.__dict__:
            out.__dict__.update(self._metadata())
        return out

    # Pickling: the plain values, the class and the metadata, put back together by
    # ``_unpickle_series_array`` (an ndarray's own state has no room for the metadata).
    def __reduce__(self):
        return _unpickle_series_array, (type(self), np.asarray(self), dict(self._metadata()))

    # ``if self.sma:`` and ``float(self.sma)`` ask about the value at the current bar,
    # the last one (as in backtesting.py). An empty or 0-d array answers as numpy does.
    def _at_current_bar(self):
        return self[-1] if self.ndim and len(self) else None

    def __bool__(self):
        latest = self._at_current_bar()
        return np.ndarray.__bool__(self) if latest is None else bool(latest)

    def __float__(self):
        latest = self._at_current_bar()
        return np.ndarray.__float__(self) if latest is None else float(latest)

    def _index_for(self, length: int):
        index = self._index
        return None if index is None else index[:length]

    @property
    def s(self) -> pd.Series:
        values = np.atleast_2d(np.asarray(self))
        return pd.Series(values[0], index=self._index_for(values.shape[1]), name=self.name)

    @property
    def df(self) -> pd.DataFrame:
        values = np.atleast_2d(np.asarray(self))
        index = self._index_for(values.shape[1])
        return pd.DataFrame(values.T, index=index, columns=[self.name] * len(values))


def _unpickle_series_array(cls, values: np.ndarray, metadata: dict) -> SeriesArray:
    """Rebuild a pickled ``SeriesArray`` (or subclass) from its values and metadata."""
    restored = values.view(cls)
    restored.__dict__.update(metadata)
    return restored


class Indicator(SeriesArray):
    """An indicator declared with ``Strategy.I``; revealed bar by bar like the data."""


class Data:
    """The strategy's view of the OHLCV data, cut at the current bar.

    ``data.Close`` etc. are numpy arrays (``SeriesArray``) ending at the
    current bar; ``data.index`` the matching timestamps; ``data.df`` a
    DataFrame; extra columns of the input frame, and those added to
    ``data.df`` in ``init()``, are available by name.
    """

    def __init__(self, df: pd.DataFrame, columns: dict[str, SeriesArray] | None = None):
        # ``columns``: the whole-data column arrays of ``df``, when a previous run built them.
        self._df = df
        self._df_copied = False  # ``df`` hands out a copy of its own (see there)
        self._full = dict(columns) if columns else {}
        self._add_new_columns()
        self._index = df.index
        self._len = len(df)
        self._cache: dict[str, np.ndarray] = {}
        self._pip = None

    def _add_new_columns(self):
        """Make columns the frame has but the arrays lack (e.g. added to ``data.df`` in
        ``init()``, as backtesting.py allows) readable by name."""
        df = self._df
        if self._full and not self._df_copied:
            return  # nobody has had the frame to add to
        for col in df.columns:
            if col not in self._full:
                self._full[col] = SeriesArray(df[col].to_numpy(), name=str(col), index=df.index)

    def _set_length(self, length: int):
        self._len = length
        self._cache.clear()

    def _column(self, key):
        arr = self._cache.get(key)
        if arr is None:
            try:
                full = self._full[key]
            except KeyError:
                raise AttributeError(
                    f"column {key!r} is not in the data; columns are {list(self._full)}"
                ) from None
            arr = self._cache[key] = full[: self._len]
        return arr

    def __getitem__(self, key):
        return self._column(key)

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        return self._column(key)

    @property
    def Open(self):
        return self._column("Open")

    @property
    def High(self):
        return self._column("High")

    @property
    def Low(self):
        return self._column("Low")

    @property
    def Close(self):
        return self._column("Close")

    @property
    def Volume(self):
        return self._column("Volume")

    @property
    def index(self) -> pd.Index:
        return self._index[: self._len]

    @property
    def df(self) -> pd.DataFrame:
        """The data up to the current bar as a DataFrame. In ``init()`` it is the whole
        frame, and columns added to it (``self.data.df["x2"] = ...``) can be read in
        ``next()`` as ``self.data.x2``; they stay in this run, not in the input."""
        if not self._df_copied:  # a shallow copy, made only for those who ask
            self._df = self._df.copy(deep=False)
            self._df_copied = True
        return self._df.iloc[: self._len] if self._len < len(self._df) else self._df

    @property
    def pip(self) -> float:
        """Smallest price step, guessed from the decimals of the closes."""
        if self._pip is None:
            decimals = [len(s.partition(".")[-1]) for s in self._full["Close"].astype(str)]
            self._pip = float(10 ** -np.median(decimals))
        return self._pip

    def __len__(self):
        return self._len

    def __repr__(self):
        i = max(self._len - 1, 0)
        row = ", ".join(f"{k}={v[i]}" for k, v in self._full.items())
        return f"<Data i={i} ({self._index[i]}) {row}>"


def _short_name(value) -> str:
    """How an argument of ``I()`` shows up in the indicator's default name."""
    if isinstance(value, Number | str):
        return str(value)
    if isinstance(value, pd.DataFrame):
        return "df"
    name = str(getattr(value, "name", "") or "")
    if name in COLUMNS:
        return name[0]
    if callable(value):
        name = getattr(value, "__name__", type(value).__name__).replace("<lambda>", "λ")
    return name if len(name) <= 10 else name[:9] + "…"


def _broker_view(name: str, doc: str, *, as_tuple: bool = False) -> property:
    """A read-only ``Strategy`` property showing the broker's attribute ``name``: the
    account lives in the broker, the strategy only looks at it (lists as tuples, so
    user code cannot edit the broker's own)."""
    read = attrgetter(f"_broker.{name}")
    if as_tuple:
        return property(lambda self: tuple(read(self)), doc=doc)
    return property(read, doc=doc)


def _is_number(value) -> bool:
    """An int or float (numpy's too), not a bool."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


class Strategy:
    """Base class of class-API strategies. Override ``init()`` and ``next()``.

    Parameters are class attributes; ``Backtest.run(**params)`` overrides them
    per run, and an unknown name fails with a did-you-mean hint.
    """

    def __init__(self, broker, data: Data, params: dict):
        self._broker = broker
        self._data = data
        self._indicators: list[Indicator] = []
        self._params = self._apply_params(params)

    def _apply_params(self, params: dict) -> dict:
        for key, value in params.items():
            if key.startswith("_") or not hasattr(self, key) or callable(getattr(self, key)):
                public = [
                    a
                    for a in dir(type(self))
                    if not a.startswith("_")
                    and not callable(getattr(type(self), a))
                    and not isinstance(getattr(type(self), a), property)
                ]
                close = get_close_matches(key, public)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                known = ", ".join(public) or "none"
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {key!r}.{hint} "
                    f"Parameters are class attributes; this strategy has: {known}.",
                    field=key,
                )
            default = getattr(type(self), key, None)
            if _is_number(default) and isinstance(value, str):
                # Text such as "abc" (or "10") would fail deep inside an indicator, or
                # compare wrongly; the default's type says what the parameter takes.
                exc = ConfigError(
                    f"{type(self).__name__} parameter {key!r} must be a number like its "
                    f"default {default!r} (got {value!r})",
                    field=key,
                )
                exc.expected, exc.default = "number", default
                raise exc
            setattr(self, key, value)
        return dict(params)

    def __repr__(self):
        return f"<Strategy {self}>"

    def __str__(self):
        params = ",".join(f"{k}={_short_name(v)}" for k, v in self._params.items())
        return f"{type(self).__name__}({params})" if params else type(self).__name__

    # --- to override ---------------------------------------------------------------------
    def init(self):
        """Declare indicators with ``self.I`` and precompute what can be vectorized."""

    def next(self):
        """Called once per bar, a moment before its close: place and manage orders here."""

    # --- indicators ----------------------------------------------------------------------
    def I(  # noqa: E743  (backtesting.py's name for it)
        self,
        func,
        *args,
        name=None,
        plot=True,
        overlay=None,
        color=None,
        scatter=False,
        **kwargs,
    ) -> Indicator:
        """Declare an indicator: ``func(*args, **kwargs)`` computed once over the whole data.

        Returns an array (2-D for multi-output indicators such as MACD) that
        ``next()`` sees only up to the current bar. The run starts on the first
        bar where every indicator has a value (after the warm-up NaNs).

        >>> # in init(): self.sma = self.I(SMA, self.data.Close, 20)
        """
        if name is None:
            params = ",".join(filter(None, map(_short_name, (*args, *kwargs.values()))))
            name = f"{_short_name(func)}({params})" if params else _short_name(func)
        try:
            value = func(*args, **kwargs)
        except Exception as exc:
            raise StrategyError(
                f"indicator {name!r} failed while computing: {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(value, pd.DataFrame):
            value = value.to_numpy().T
        elif isinstance(value, tuple | list):
            try:
                value = np.asarray([np.asarray(v, dtype=float) for v in value])
            except (TypeError, ValueError):
                # Labels, not numbers (backtesting.py's GH-309 case): keep numpy's own
                # dtype (str or object), as backtesting.py does.
                value = np.asarray(value)
        n = len(self._data)
        try:
            value = np.asarray(value, order="C")
        except Exception:
            value = None
        if value is not None and value.ndim == 2 and value.shape[0] == n and value.shape[1] != n:
            value = value.T  # e.g. df.values: one column per output
        if value is None or not 1 <= value.ndim <= 2 or value.shape[-1] != n:
            shape = getattr(value, "shape", None)
            raise StrategyError(
                f"indicator {name!r} must return an array (or a tuple of arrays) as long "
                f"as the data ({n} bars); it returned shape {shape}"
            )
        if overlay is None and np.issubdtype(value.dtype, np.number):
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = value / np.asarray(self._data._full["Close"])  # plain: no wrapping
                overlay = bool(((ratio < 1.4) & (ratio > 0.6)).mean() > 0.6)
        indicator = Indicator(
            value,
            name=name,
            index=self._data._index,
            plot=plot,
            overlay=overlay,
            color=color,
            scatter=scatter,
        )
        self._indicators.append(indicator)
        return indicator

    # --- orders --------------------------------------------------------------------------
    def buy(self, *, size: float = ALL_IN, limit=None, stop=None, sl=None, tp=None, tag=None):
        """Place a long order and return it.

        size: a fraction of available margin when 0 < size < 1 (default: all of
        it), else a number of units (rounded down to ``lot_size``). limit/stop:
        prices for limit or stop orders (market order when both are None).
        sl/tp: stop-loss and take-profit prices for the resulting trade.
        """
        return self._broker.new_order(_check_size(size), limit, stop, sl, tp, tag)

    def sell(self, *, size: float = ALL_IN, limit=None, stop=None, sl=None, tp=None, tag=None):
        """Place a short order and return it; see ``buy()``. To exit a long, use
        ``self.position.close()``: a sell does not close a buy unless
        ``exclusive_orders`` is on or the two net out exactly."""
        return self._broker.new_order(-_check_size(size), limit, stop, sl, tp, tag)

    # --- account: read through to the broker ---------------------------------------------
    equity = _broker_view("equity", "Cash plus the market value of open trades' P&L, in money.")
    position = _broker_view("position", "The net position over the open trades.")
    orders = _broker_view("orders", "Orders waiting to be filled (a tuple).", as_tuple=True)
    trades = _broker_view("trades", "Open trades (a tuple).", as_tuple=True)
    closed_trades = _broker_view(
        "closed_trades", "Closed trades, in the order they closed (a tuple).", as_tuple=True
    )
    data = property(attrgetter("_data"), doc="The bars so far (``Data``).")


def _check_size(size) -> float:
    try:
        ok = 0 < size < 1 or (round(size) == size and size >= 1)
    except TypeError:
        ok = False
    if not ok:
        raise StrategyError(
            f"size={size!r}: give a fraction of equity between 0 and 1, or a whole "
            "number of units >= 1"
        )
    return size
