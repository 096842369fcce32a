"""Market data: demo, Yahoo and file bars as one validated OHLCV frame.

>>> from algobt.engine.data import load
>>> bars = load("DEMO-BTC", period="1mo", interval="4h")
>>> bars.attrs["interval"], len(bars) > 150
('4h', True)

Modules, one job each: ``periods`` (period/interval spellings and windows),
``resample`` (aggregating bars), ``validate`` (rejecting bad rows), ``frame``
(the output contract), ``demo`` (bundled data), ``yahoo`` (yfinance + limits),
``cache`` (the on-disk cache), ``files`` (CSV/Parquet/DataFrame), ``loader``
(``load`` itself).
"""

from algobt.engine.data.demo import list_symbols
from algobt.engine.data.loader import SOURCES, load
from algobt.engine.data.periods import INTERVALS, PERIODS
from algobt.engine.data.validate import validate_ohlcv

__all__ = ["load", "validate_ohlcv", "list_symbols", "PERIODS", "INTERVALS", "SOURCES"]
