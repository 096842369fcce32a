"""The on-disk cache of downloaded bars: one Parquet file per (source, symbol, interval, range).

Default location ``~/.algobt/cache/``; the ``ALGOBT_HOME`` environment variable
replaces ``~/.algobt``. A notebook kernel and a server may share it: files are
written to a temporary name and renamed into place, so a reader never sees half
a file, and a file that cannot be read is treated as missing and fetched again.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import pandas as pd


def algobt_home() -> Path:
    """``$ALGOBT_HOME`` if set, else ``~/.algobt``.

    >>> isinstance(algobt_home(), Path)
    True
    """
    return Path(os.environ.get("ALGOBT_HOME") or "~/.algobt").expanduser()


def default_cache_dir() -> Path:
    """Where downloaded bars are kept unless ``cache_dir`` says otherwise: ``<home>/cache``.

    >>> default_cache_dir().name
    'cache'
    """
    return algobt_home() / "cache"


def cache_file(cache_dir: Path | str | None, source: str, symbol: str, key: str) -> Path:
    """The file for ``key`` (e.g. ``"1d_20240101_20250101"``) of ``symbol`` from ``source``.

    ``symbol`` must already be a safe file name (the Yahoo source checks tickers).

    >>> cache_file("/tmp/c", "yahoo", "AAPL", "1d_max_20250101").as_posix()
    '/tmp/c/yahoo/AAPL/1d_max_20250101.parquet'
    """
    base = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    return base / source / symbol / f"{key}.parquet"


def read_cached(path: Path) -> pd.DataFrame | None:
    """The frame stored at ``path``, or ``None`` when there is none (or it is unreadable).

    >>> read_cached(Path("/nonexistent/x.parquet")) is None
    True
    """
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except Exception:  # a torn or foreign file is only a cache miss: fetch again
        return None


def write_cached(path: Path, frame: pd.DataFrame) -> None:
    """Store ``frame`` at ``path`` atomically (write a temporary file, then rename).

    A cache that cannot be written (read-only home, full disk) only costs a
    warning: the bars were fetched and are still returned.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "yahoo" / "X" / "1d.parquet"
    >>> write_cached(target, pd.DataFrame({"Close": [1.0]}))
    >>> read_cached(target)["Close"].tolist()
    [1.0]
    """
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(partial, compression="zstd")
        os.replace(partial, path)
    except OSError as exc:
        warnings.warn(
            f"could not write the data cache at {str(path)!r} ({exc}); the next identical "
            "request will download again. Set ALGOBT_HOME to a writable folder to fix this",
            RuntimeWarning,
            stacklevel=2,
        )
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
