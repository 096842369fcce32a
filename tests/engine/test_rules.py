"""Canonical JSON strategies: schema, validation messages, compiling, export, detection.

The corpus under ``rules_corpus/``: every ``valid/*.json`` is compiled, run on the
demo data through ``from_signals`` and matched trade for trade against its exported
Python class (and ``SignalStrategy``); every ``invalid/*.json`` must be refused with
the JSON path on the first line of its sibling ``.expect`` file, by a message that
contains the second line.
"""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from algobt import Backtest, Strategy
from algobt.engine.detect import detect_kind, validate_strategy_code
from algobt.engine.fast import SignalStrategy
from algobt.engine.indicators import INDICATOR_SPECS, SMA
from algobt.engine.rules import (
    SCHEMA,
    Spec,
    compile_spec,
    parse_spec,
    run_spec,
    spec_parameters,
    to_python,
    validate_spec,
    with_parameters,
)
from algobt.errors import ConfigError
from algobt.lib import crossover

CORPUS = pathlib.Path(__file__).parent / "rules_corpus"
VALID = sorted((CORPUS / "valid").glob("*.json"))
INVALID = sorted((CORPUS / "invalid").glob("*.json"))
TRADE_COLUMNS = [
    "Size",
    "EntryBar",
    "ExitBar",
    "EntryPrice",
    "ExitPrice",
    "SL",
    "TP",
    "PnL",
    "Commission",
]
SETTINGS = {
    "plain": dict(commission=0.001),
    "costly_on_close": dict(
        commission=0.002,
        spread=0.0005,
        slippage=0.0002,
        trade_on_close=True,
        finalize_trades=True,
        cash=25_000,
    ),
}
EMA_CROSS = {
    "name": "EMA cross + RSI filter",
    "version": 1,
    "indicators": {
        "fast": {"type": "EMA", "period": 9},
        "slow": {"type": "EMA", "period": 21},
        "rsi": {"type": "RSI", "period": 14, "source": "close"},
    },
    "entry": {"long": {"all": [{"crosses_above": ["fast", "slow"]}, {"lt": ["rsi", 70]}]}},
    "exit": {"long": {"any": [{"crosses_below": ["fast", "slow"]}]}},
    "risk": {"stop_loss_pct": 2.0, "take_profit_pct": 5.0, "size_pct": 100},
}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    try:
        from algobt import load
    except ImportError:  # the data module not there yet: backtesting.py's sample
        from backtesting.test import GOOG

        return GOOG
    return load("DEMO")


def _exported_class(spec) -> type[Strategy]:
    namespace: dict = {}
    exec(compile(to_python(spec), "<exported>", "exec"), namespace)
    found = [
        v
        for v in namespace.values()
        if isinstance(v, type) and issubclass(v, Strategy) and v is not Strategy
    ]
    assert len(found) == 1
    return found[0]


def _trades(result) -> pd.DataFrame:
    return result._trades[TRADE_COLUMNS].reset_index(drop=True)


def _doc(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


# --------------------------------------------------------------------------------------
# schema
# --------------------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema_and_plain_json():
    Draft202012Validator.check_schema(SCHEMA)
    assert json.loads(json.dumps(SCHEMA)) == SCHEMA
    assert SCHEMA["$defs"]["indicator"]["properties"]["type"]["enum"] == list(INDICATOR_SPECS)


def test_corpus_has_enough_cases_and_every_invalid_case_has_its_expectation():
    assert len(VALID) >= 8
    assert len(INVALID) >= 30
    for path in INVALID:
        assert path.with_suffix(".expect").exists(), path.name


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_specs_also_pass_the_bare_json_schema(path):
    Draft202012Validator(SCHEMA).validate(_doc(path))
    assert validate_spec(_doc(path)) == []


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_spec_is_refused_naming_the_path_and_what_is_allowed(path):
    expected_path, hint = path.with_suffix(".expect").read_text().splitlines()[:2]
    text = path.read_text()
    errors = validate_spec(text)
    assert errors, "accepted an invalid spec"
    at_path = [e for e in errors if e["path"] == expected_path]
    assert at_path, f"no error at {expected_path}: {errors}"
    assert any(hint.lower() in e["message"].lower() for e in at_path), at_path
    for error in errors:
        assert set(error) == {"path", "message"}
        assert error["path"].startswith("$")
        # Messages are ours, not the validator library's.
        assert "Failed validating" not in error["message"]
        assert "is not valid under any" not in error["message"]
    with pytest.raises(ConfigError) as info:
        parse_spec(text)
    assert errors[0]["path"] in str(info.value)
    assert info.value.field == errors[0]["path"]


def test_parse_error_lists_every_problem_and_keeps_them_on_the_exception():
    doc = json.loads(json.dumps(EMA_CROSS))
    doc["indicators"]["fast"]["period"] = 0
    doc["risk"]["size_pct"] = 150
    with pytest.raises(ConfigError) as info:
        parse_spec(doc)
    paths = [e["path"] for e in info.value.errors]
    assert paths == ["$.indicators.fast.period", "$.risk.size_pct"]  # document order
    assert "2 problems" in info.value.message
    assert "Allowed here" in info.value.message


def test_absurdly_deep_json_text_is_an_error_not_a_crash():
    def nested(levels):
        return (
            '{"name": "x", "version": 1, "indicators": {}, "entry": {"long": '
            + '{"not": ' * levels
            + '{"gt": ["close", "open"]}'
            + "}" * levels
            + "}}"
        )

    errors = validate_spec(nested(500))
    assert [e["path"] for e in errors] == ["$.entry.long" + ".not" * 32]
    errors = validate_spec(nested(50_000))
    assert errors == [{"path": "$", "message": "the JSON is nested too deeply"}]
    assert validate_spec("[" * 100_000 + "]" * 100_000)[0]["path"] == "$"
    report = validate_strategy_code("{" + '"a": {' * 100_000 + "}" * 100_001)
    assert not report["valid"]


def test_parse_spec_accepts_text_bytes_dicts_and_specs():
    text = json.dumps(EMA_CROSS)
    spec = parse_spec(text)
    assert isinstance(spec, Spec) and spec.name == "EMA cross + RSI filter"
    assert parse_spec(text.encode()).to_dict() == EMA_CROSS
    assert parse_spec(spec) is spec
    assert json.loads(spec.to_json()) == EMA_CROSS
    assert list(spec.indicators) == ["fast", "slow", "rsi"]
    assert spec.indicators["fast"].params == {"period": 9}


def test_indicator_on_indicator_is_ordered_by_dependency():
    doc = {
        "name": "x",
        "version": 1,
        "indicators": {
            "smooth": {"type": "SMA", "period": 3, "source": "rsi"},
            "rsi": {"type": "RSI"},
        },
        "entry": {"long": {"crosses_above": ["rsi", "smooth"]}},
    }
    assert list(parse_spec(doc).indicators) == ["rsi", "smooth"]


# --------------------------------------------------------------------------------------
# compiling
# --------------------------------------------------------------------------------------


def test_signals_carry_indicator_lines_named_for_charts(data):
    doc = {
        "name": "x",
        "version": 1,
        "indicators": {"fast": {"type": "EMA", "period": 5}, "m": {"type": "MACD"}},
        "entry": {"long": {"crosses_above": ["m.macd", "m.signal"]}},
        "exit": {"long": {"lt": ["close", "fast"]}},
    }
    signals = compile_spec(doc, data)
    assert list(signals.indicators) == ["fast", "m.macd", "m.signal", "m.hist"]
    assert signals.entries.dtype == bool and len(signals.entries) == len(data)
    assert not signals.short_entries.any() and not signals.short_exits.any()
    frame = signals.to_frame()
    assert list(frame.columns[:4]) == ["entries", "exits", "short_entries", "short_exits"]
    assert signals.start == INDICATOR_SPECS["MACD"].lookback() + 1


def test_no_look_ahead_signals_on_a_prefix_equal_the_full_runs(data):
    doc = _doc(CORPUS / "valid" / "rsi_between.json")
    full = compile_spec(doc, data)
    for cut in (60, 200, 777, len(data) - 1):
        part = compile_spec(doc, data.iloc[:cut])
        for name in ("entries", "exits", "short_entries", "short_exits"):
            np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[:cut])


def test_crossover_is_the_lib_crossover_bar_by_bar(data):
    close = data["Close"].to_numpy()[:400]
    sma = SMA(close, 10)
    doc = {
        "name": "x",
        "version": 1,
        "indicators": {"sma": {"type": "SMA", "period": 10}},
        "entry": {"long": {"crosses_above": ["close", "sma"]}},
        "exit": {"long": {"crosses_below": ["close", "sma"]}},
    }
    signals = compile_spec(doc, data.iloc[:400])
    for i in range(signals.start, 400):
        assert signals.entries[i] == crossover(close[: i + 1], sma[: i + 1])
        assert signals.exits[i] == crossover(sma[: i + 1], close[: i + 1])
    assert signals.entries.any() and signals.exits.any()


def test_nan_comparisons_are_false_and_not_turns_them_true():
    n = 10
    prices = np.arange(1.0, n + 1)
    df = pd.DataFrame({"Open": prices, "High": prices, "Low": prices, "Close": prices})
    ago = {"ref": "close", "shift": 3}
    doc = {
        "name": "x",
        "version": 1,
        "indicators": {},
        "entry": {"long": {"gt": ["close", ago]}, "short": {"not": {"le": ["close", ago]}}},
    }
    signals = compile_spec(doc, df)
    assert signals.start == 1
    assert signals.entries.tolist() == [False] * 3 + [True] * 7
    assert signals.short_entries.tolist() == [False] + [True] * 9


def test_signals_before_the_warm_up_are_dropped(data):
    doc = {
        "name": "x",
        "version": 1,
        "indicators": {"slow": {"type": "SMA", "period": 50}},
        "entry": {"long": {"gt": ["close", 0]}},
        "exit": {"long": {"lt": ["slow", 0]}},
    }
    signals = compile_spec(doc, data)
    assert signals.start == 50
    assert not signals.entries[:50].any() and signals.entries[50:].all()


def test_between_is_inclusive():
    prices = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    df = pd.DataFrame({"Open": prices, "High": prices, "Low": prices, "Close": prices})
    doc = {
        "name": "x",
        "version": 1,
        "indicators": {},
        "entry": {"long": {"between": ["close", 2, 4]}},
    }
    assert compile_spec(doc, df).entries.tolist() == [False, True, True, True, False]


# --------------------------------------------------------------------------------------
# running: the fast path, the exported class and SignalStrategy agree trade for trade
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", list(SETTINGS), ids=str)
@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_spec_trades_identically_as_exported_python(path, settings, data):
    spec = parse_spec(path.read_text())
    opts = SETTINGS[settings]
    fast = run_spec(spec, data, **opts)
    exported = Backtest(data, _exported_class(spec), **opts).run()
    signals = compile_spec(spec, data)
    shorts = "short" in spec.entry
    twin = Backtest(data, SignalStrategy, **opts).run(
        entries=signals.entries,
        exits=signals.exits,
        short_entries=signals.short_entries if shorts else None,
        short_exits=signals.short_exits if shorts else None,
        size=spec.size_pct / 100 if spec.size_pct < 100 else SignalStrategy.size,
        sl_pct=spec.stop_loss_pct,
        tp_pct=spec.take_profit_pct,
    )
    assert fast["# Trades"] > 5, "a corpus spec should trade enough to be a real test"
    pd.testing.assert_frame_equal(
        _trades(fast), _trades(exported), check_exact=True, check_dtype=False
    )
    pd.testing.assert_frame_equal(_trades(fast), _trades(twin), check_exact=True, check_dtype=False)
    assert fast["Equity Final [$]"] == exported["Equity Final [$]"]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_exported_source_is_tidy_python(path):
    spec = parse_spec(path.read_text())
    source = to_python(spec)
    tree = ast.parse(source)
    assert ast.get_docstring(tree).startswith(spec.name)
    assert all(len(line) <= 100 for line in source.splitlines())
    assert "\t" not in source
    cls = _exported_class(spec)
    assert cls.__doc__.startswith(spec.name)
    assert "def init(self):" in source and "def next(self):" in source
    for ind in spec.indicators.values():
        assert f"self.I({ind.type}," in source or f"self.I(\n            {ind.type}," in source


def test_exported_class_parameters_are_class_attributes():
    source = to_python(EMA_CROSS)
    assert "    fast_period = 9\n" in source
    assert "    stop_loss_pct = 2.0\n" in source
    assert "self.fast = self.I(EMA, self.data.Close, self.fast_period" in source
    assert "crossover(self.fast, self.slow)" in source
    cls = _exported_class(EMA_CROSS)
    assert (cls.fast_period, cls.slow_period, cls.rsi_period) == (9, 21, 14)


def test_long_only_take_profit_above_100_percent_runs(data):
    doc = json.loads(json.dumps(EMA_CROSS))
    doc["risk"]["take_profit_pct"] = 250
    assert run_spec(doc, data)["# Trades"] > 0


# --------------------------------------------------------------------------------------
# parameters for sweeps
# --------------------------------------------------------------------------------------


def test_spec_parameters_are_flat_and_include_defaults():
    doc = _doc(CORPUS / "valid" / "stochastic_extremes.json")
    assert spec_parameters(doc) == {
        "stoch.fastk_period": 14,
        "stoch.slowk_period": 3,
        "stoch.slowd_period": 3,
        "oversold": 25,
        "overbought": 75,
        "risk.size_pct": 100,
    }
    assert spec_parameters(EMA_CROSS) == {
        "fast.period": 9,
        "slow.period": 21,
        "rsi.period": 14,
        "risk.stop_loss_pct": 2.0,
        "risk.take_profit_pct": 5.0,
        "risk.size_pct": 100,
    }


def test_with_parameters_returns_a_new_validated_spec(data):
    changed = with_parameters(
        EMA_CROSS, {"fast.period": np.int64(12), "slow.period": 30.0, "risk.stop_loss_pct": 3}
    )
    assert EMA_CROSS["indicators"]["fast"]["period"] == 9  # the original is untouched
    assert changed["indicators"]["fast"] == {"type": "EMA", "period": 12}
    assert changed["indicators"]["slow"]["period"] == 30
    assert isinstance(changed["indicators"]["slow"]["period"], int)
    assert spec_parameters(changed)["risk.stop_loss_pct"] == 3
    as_spec = with_parameters(parse_spec(EMA_CROSS), {"rsi.period": 7})
    assert isinstance(as_spec, Spec) and as_spec.indicators["rsi"].params["period"] == 7
    user = with_parameters(_doc(CORPUS / "valid" / "stochastic_extremes.json"), {"oversold": 30})
    assert user["parameters"]["oversold"] == 30
    # a sweep over fast.period changes the trades
    counts = {
        p: run_spec(with_parameters(EMA_CROSS, {"fast.period": p}), data)["# Trades"]
        for p in (5, 15)
    }
    assert counts[5] != counts[15]


def test_with_parameters_refuses_unknown_names_and_bad_values():
    with pytest.raises(ConfigError, match="Did you mean 'fast.period'") as info:
        with_parameters(EMA_CROSS, {"fast.perid": 12})
    assert info.value.field == "fast.perid"
    with pytest.raises(ConfigError, match=r"\$\.indicators\.fast\.period") as info:
        with_parameters(EMA_CROSS, {"fast.period": 0})
    assert info.value.field == "$.indicators.fast.period"
    with pytest.raises(ConfigError, match="size_pct"):
        with_parameters(EMA_CROSS, {"risk.size_pct": 150})


# --------------------------------------------------------------------------------------
# detection and the validate endpoint's answer
# --------------------------------------------------------------------------------------


def test_detect_kind():
    assert detect_kind(EMA_CROSS) == "json"
    assert detect_kind(parse_spec(EMA_CROSS)) == "json"
    assert detect_kind(json.dumps(EMA_CROSS)) == "json"
    assert detect_kind('\ufeff\n   {"name": "x"}') == "json"
    assert detect_kind(b'{"name": "x"}') == "json"
    assert detect_kind("{broken json") == "json"  # then reported as a JSON error
    assert detect_kind("from algobt import Strategy\n") == "python"
    assert detect_kind("# {not json}\nclass S(Strategy): pass") == "python"
    assert detect_kind("") == "python"


def test_validate_python_syntax_error_has_line_and_column():
    code = "from algobt import Strategy\n\nclass S(Strategy):\n    def next(self)\n        pass\n"
    report = validate_strategy_code(code)
    assert report["valid"] is False and report["kind"] == "python"
    assert report["errors"] == [{"line": 4, "column": 19, "message": "syntax error: expected ':'"}]
    assert report["parameters"] == {}


def test_validate_python_finds_parameters_without_running_the_code(tmp_path):
    marker = tmp_path / "ran"
    code = (
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('x')\n"
        "from algobt import Strategy, lib\n"
        "class Base(Strategy):\n"
        "    slow = 30\n"
        "class SmaCross(Base):\n"
        "    fast: int = 10\n"
        "    threshold = -0.5\n"
        "    label = 'x'\n"
        "    _private = 1\n"
        "    computed = len('abc')\n"
        "    def next(self):\n"
        "        pass\n"
    )
    report = validate_strategy_code(code)
    assert not marker.exists()
    assert report == {
        "valid": True,
        "kind": "python",
        "errors": [],
        "parameters": {"slow": 30, "fast": 10, "threshold": -0.5, "label": "x"},
    }


def test_validate_python_without_a_strategy_class():
    report = validate_strategy_code("def f():\n    return 1\n")
    assert not report["valid"]
    assert "Strategy" in report["errors"][0]["message"]
    assert validate_strategy_code("   \n")["errors"][0]["message"].startswith("the strategy code")


def test_validate_json_decode_error_has_line_and_column():
    report = validate_strategy_code('{\n  "name": "x",\n  "version": 1,\n}')
    assert report["kind"] == "json" and not report["valid"]
    (error,) = report["errors"]
    assert (error["line"], error["column"], error["path"]) == (4, 1, "$")
    assert error["message"].startswith("not valid JSON")


def test_validate_json_spec_errors_carry_path_line_and_column():
    text = json.dumps(EMA_CROSS, indent=2).replace('"period": 21', '"period": -21')
    report = validate_strategy_code(text)
    assert not report["valid"] and report["parameters"] == {}
    (error,) = report["errors"]
    assert error["path"] == "$.indicators.slow.period"
    line = text.splitlines()[error["line"] - 1]
    assert line[error["column"] - 1 :].startswith('"period": -21')


def test_validate_valid_json_gives_its_sweep_parameters():
    for code in (json.dumps(EMA_CROSS), EMA_CROSS):
        report = validate_strategy_code(code)
        assert report == {
            "valid": True,
            "kind": "json",
            "errors": [],
            "parameters": spec_parameters(EMA_CROSS),
        }


def test_run_config_runs_a_json_strategy_with_parameter_overrides(data):
    from algobt.engine.run import run_config

    outcome = run_config(
        {
            "symbol": "DEMO",
            "strategy_code": json.dumps(EMA_CROSS),
            "params": {"fast.period": 12},
            "commission": 0.001,
            "slippage": 0.0,
        },
        data={"DEMO": data},
    )
    expected = run_spec(
        with_parameters(EMA_CROSS, {"fast.period": 12}),
        data,
        commission=0.001,
        finalize_trades=True,
    )
    assert outcome.kind == "json"
    assert outcome.result["# Trades"] == expected["# Trades"]


# --------------------------------------------------------------------------------------
# robustness: any mutation of a valid spec is either refused with paths, or runs
# --------------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 200_000)
    | st.floats(-1e3, 1e3)
    | st.sampled_from(["close", "fast", "macd.signal", "bb", "close[1]", "", "EMA", "rsi"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["gt", "all", "not", "ref", "shift", "param", "type", "period", "source", "x"]
            ),
            children,
            max_size=2,
        )
    ),
    max_leaves=6,
)


def _slots(node, parts=()):
    yield parts
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _slots(value, (*parts, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _slots(value, (*parts, i))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.data())
def test_mutated_specs_are_refused_cleanly_or_compile(path, draw):
    doc = _doc(path)
    slots = list(_slots(doc))[1:]
    target = draw.draw(st.sampled_from(slots))
    node = doc
    for part in target[:-1]:
        node = node[part]
    node[target[-1]] = draw.draw(_json_values)
    errors = validate_spec(doc)
    if errors:
        assert all(e["path"].startswith("$") and e["message"] for e in errors)
        with pytest.raises(ConfigError):
            parse_spec(doc)
        return
    prices = np.linspace(100.0, 120.0, 60) + np.sin(np.arange(60))
    df = pd.DataFrame(
        {"Open": prices, "High": prices + 1, "Low": prices - 1, "Close": prices, "Volume": 1000.0}
    )
    signals = compile_spec(doc, df)
    assert signals.entries.shape == (60,)
    compile(to_python(doc), "<exported>", "exec")


_OUTPUTS = {
    "SMA": ["sma"],
    "EMA": ["ema"],
    "RSI": ["rsi"],
    "ROC": ["roc"],
    "ATR": ["atr"],
    "MACD": ["m.macd", "m.signal", "m.hist"],
    "BBANDS": ["bb.upper", "bb.lower"],
    "STOCH": ["st.k", "st.d"],
}
_NAMES = {
    "SMA": "sma",
    "EMA": "ema",
    "RSI": "rsi",
    "ROC": "roc",
    "ATR": "atr",
    "MACD": "m",
    "BBANDS": "bb",
    "STOCH": "st",
}


@st.composite
def _random_specs(draw):
    types = draw(st.lists(st.sampled_from(sorted(_NAMES)), min_size=1, max_size=3, unique=True))
    indicators = {}
    for itype in types:
        indicators[_NAMES[itype]] = {"type": itype}
        if itype in ("SMA", "EMA", "RSI", "ROC", "ATR", "BBANDS"):
            indicators[_NAMES[itype]]["period"] = draw(st.integers(2, 30))
    series = [s for t in types for s in _OUTPUTS[t]] + ["close", "open", "hl2"]
    operand = st.sampled_from(series) | st.builds(
        lambda ref, shift: {"ref": ref, "shift": shift}, st.sampled_from(series), st.integers(0, 3)
    )
    number = st.integers(-5, 100) | st.floats(-5, 100).map(lambda x: round(x, 2))
    leaf = st.builds(
        lambda op, a, b: {op: [a, b]},
        st.sampled_from(["crosses_above", "crosses_below", "gt", "lt", "ge", "le"]),
        operand,
        operand | number,
    ) | st.builds(
        lambda x, lo, hi: {"between": [x, lo, hi]}, operand, operand | number, operand | number
    )
    condition = st.recursive(
        leaf,
        lambda c: (
            st.builds(lambda xs: {"all": xs}, st.lists(c, min_size=1, max_size=3))
            | st.builds(lambda xs: {"any": xs}, st.lists(c, min_size=1, max_size=3))
            | st.builds(lambda x: {"not": x}, c)
        ),
        max_leaves=4,
    )
    sides = draw(st.sampled_from([("long",), ("short",), ("long", "short")]))
    doc = {
        "name": "random",
        "version": 1,
        "indicators": indicators,
        "entry": {side: draw(condition) for side in sides},
        "exit": {side: draw(condition) for side in sides if draw(st.booleans())},
        "risk": {"size_pct": draw(st.sampled_from([25, 50, 100]))},
    }
    if draw(st.booleans()):
        doc["risk"]["stop_loss_pct"] = draw(st.floats(0.5, 10).map(lambda x: round(x, 2)))
    if draw(st.booleans()):
        doc["risk"]["take_profit_pct"] = draw(st.floats(0.5, 20).map(lambda x: round(x, 2)))
    return doc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_random_specs(), opts=st.sampled_from(list(SETTINGS.values())))
def test_random_valid_specs_trade_identically_as_exported_python(spec, opts, data):
    assert validate_spec(spec) == []
    part = data.iloc[:500]
    fast = run_spec(spec, part, **opts)
    exported = Backtest(part, _exported_class(spec), **opts).run()
    pd.testing.assert_frame_equal(
        _trades(fast), _trades(exported), check_exact=True, check_dtype=False
    )


def test_a_python_strategy_run_never_imports_jsonschema():
    """jsonschema (about a second to import beside Jupyter's rfc3987-syntax) loads only
    when JSON rules are checked: a class strategy's run, and every server worker that
    runs one, goes without it; a rules run still validates."""
    code = (
        "import sys, algobt; from algobt.engine.events import events\n"
        "cfg = {'symbol': 'DEMO', 'period': '3mo', 'strategy_code': sys.argv[1]}\n"
        "kinds = [m['type'] for m in events(cfg)]\n"
        "print(kinds[-1], 'jsonschema' in sys.modules)\n"
        "from algobt.engine.rules import parse_spec\n"
        "try:\n"
        "    parse_spec({'name': 'x', 'entry': 3})\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, 'jsonschema' in sys.modules)\n"
    )
    strategy = (
        "from algobt import Strategy\n"
        "class Hold(Strategy):\n"
        "    def init(self):\n        pass\n"
        "    def next(self):\n        if not self.position:\n            self.buy()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, strategy], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["complete", "False", "ConfigError", "True"]
