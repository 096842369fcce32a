"""``ResultWidget``: a finished run as the page shows it (what ``result.plot()`` returns)."""

from __future__ import annotations

import anywidget
import traitlets

from algobt.engine.result import Result
from algobt.errors import ConfigError
from algobt.widgets.live import STATIC


def result_dict(result) -> dict:
    """The JSON ``BacktestResult`` (``docs/api.md``) of a ``Result``, a ``RunOutcome``, a
    stored result dict or a ``LiveChart`` that has finished."""
    if isinstance(result, Result):
        return result.to_dict()
    if isinstance(result, dict) and "summary" in result:
        return result
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict) and not isinstance(result, dict):
        return to_dict()
    inner = getattr(result, "result", None)
    if isinstance(inner, Result):
        return inner.to_dict()
    raise ConfigError(
        f"expected a Result (or a stored result dict), got {type(result).__name__}",
        field="result",
    )


class ResultWidget(anywidget.AnyWidget):
    """Summary cards, equity with drawdown, daily performance, symbol distribution and the
    trades table of one run, with the hooks of ``docs/page.md``."""

    _esm = STATIC / "result.js"
    _css = STATIC / "widgets.css"

    result = traitlets.Dict().tag(sync=True)

    def __init__(self, result, **kwargs):
        super().__init__(result=result_dict(result), **kwargs)
