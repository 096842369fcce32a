"""The JSON Schema (draft 2020-12) of a canonical JSON strategy, built from the indicator
registry so a new indicator needs no edit here.

The schema checks shape only; ``_validate`` adds what a schema cannot say (names that
must exist, cycles, limits). Every node carries a ``description`` that says what is
allowed there: the web UI shows it as help text and error messages quote it.
"""

from __future__ import annotations

from algobt.engine.indicators import INDICATOR_SPECS, MAX_PERIOD

# Limits that keep a spec from the network cheap to check and to run.
MAX_CONDITION_DEPTH = 32  # nested condition levels below entry.long etc.
MAX_JSON_DEPTH = 100  # any nesting of objects and lists
MAX_NODES = 1000  # conditions plus operands in the whole spec
MAX_INDICATORS = 64
MAX_PARAMETERS = 100
MAX_SHIFT = MAX_PERIOD
MAX_NBDEV = 10.0
MAX_TEXT_CHARS = 500_000
MAX_ISSUES = 50  # problems reported at once; the first ones are what a user fixes first

NAME_PATTERN = "^[A-Za-z][A-Za-z0-9_]{0,63}$"
NAME_RULE = "a name starts with a letter and has only letters, digits and _ (at most 64)"

PRICE_FIELDS = ("open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4")
COMPARISONS = ("gt", "lt", "ge", "le")
CROSSES = ("crosses_above", "crosses_below")
GROUPS = ("all", "any")
OPERATORS = (*CROSSES, *COMPARISONS, "between", *GROUPS, "not")
SIDES = ("long", "short")

# The JSON name of each registry parameter: "n" reads better as "period".
JSON_PARAM_NAMES = {"n": "period"}
REGISTRY_PARAM_NAMES = {v: k for k, v in JSON_PARAM_NAMES.items()}

OPERAND_HELP = (
    'an operand: an indicator name ("fast"), an indicator output ("macd.signal", '
    f'"bb.upper"), a price field ({", ".join(PRICE_FIELDS)}), a number, a value n bars '
    'ago {"ref": "close", "shift": 1}, or a parameter {"param": "rsi_max"}'
)
CONDITION_HELP = (
    "a condition: an object with exactly one operator: "
    '{"crosses_above": [a, b]}, {"crosses_below": [a, b]}, {"gt": [a, b]}, '
    '{"lt": [a, b]}, {"ge": [a, b]}, {"le": [a, b]}, {"between": [x, low, high]}, '
    '{"all": [conditions]}, {"any": [conditions]} or {"not": condition}'
)


def json_params(indicator_type: str) -> list[tuple[str, object]]:
    """(JSON name, registry ``Param``) for each parameter of an indicator type."""
    return [
        (JSON_PARAM_NAMES.get(p.name, p.name), p) for p in INDICATOR_SPECS[indicator_type].params
    ]


def takes_source(indicator_type: str) -> bool:
    """Whether the indicator reads one series (``source``) rather than high/low/close."""
    return len(INDICATOR_SPECS[indicator_type].inputs) == 1


def param_bounds(param) -> tuple[float, float]:
    """The range a spec may use: the registry's, with band widths kept sane."""
    if param.kind is float:
        return 0.0, MAX_NBDEV
    return param.minimum, param.maximum


def _param_schema(indicator_type: str, json_name: str, param) -> dict:
    low, high = param_bounds(param)
    if param.kind is int:
        what = f"a whole number of bars from {low} to {high} (default {param.default})"
    else:
        what = f"{param.description}, a number from {low:g} to {high:g} (default {param.default:g})"
    return {
        "type": "integer" if param.kind is int else "number",
        "minimum": low,
        "maximum": high,
        "default": param.default,
        "description": f"{indicator_type} {json_name}: {what}",
    }


def _indicator_schema() -> dict:
    types = list(INDICATOR_SPECS)
    rules = []
    for name, spec in INDICATOR_SPECS.items():
        props: dict = {"type": {"const": name}}
        keys = ["type"]
        for json_name, param in json_params(name):
            props[json_name] = _param_schema(name, json_name, param)
            keys.append(json_name)
        if takes_source(name):
            props["source"] = {"$ref": "#/$defs/source"}
            keys.append("source")
        outputs = ", ".join(spec.outputs)
        rules.append(
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {
                    "properties": props,
                    "additionalProperties": False,
                    "description": f"{name}: {spec.description} Keys: {', '.join(keys)}. "
                    f"Outputs: {outputs}.",
                },
            }
        )
    return {
        "type": "object",
        "required": ["type"],
        "description": (
            'an indicator: {"type": one of ' + ", ".join(types) + ", its parameters "
            '(e.g. "period"), and "source" (a price field or another indicator; default '
            "close)}"
        ),
        "properties": {
            "type": {
                "enum": types,
                "description": "the indicator type, one of " + ", ".join(types),
            },
        },
        "allOf": rules,
    }


def _sides(min_sides: int, what: str) -> dict:
    return {
        "type": "object",
        "minProperties": min_sides,
        "additionalProperties": False,
        "properties": {side: {"$ref": "#/$defs/condition"} for side in SIDES},
        "description": f'{what}: {{"long": condition, "short": condition}}, each optional'
        + (" but at least one given" if min_sides else ""),
    }


def _operand_list(count: int, example: str) -> dict:
    return {
        "type": "array",
        "minItems": count,
        "maxItems": count,
        "items": {"$ref": "#/$defs/operand"},
        "description": f"a list of exactly {count} operands, e.g. {example}",
    }


def build_schema() -> dict:
    """The JSON Schema of a version-1 spec, as a fresh dict."""
    pct = "a percent number"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:algobt:strategy-spec:1",
        "title": "algobt strategy (canonical JSON)",
        "description": (
            "A trading strategy as data: indicators, entry and exit conditions per side, "
            "and risk settings. Conditions act on the bar where they become true; orders "
            "fill at the next bar's open."
        ),
        "type": "object",
        "required": ["name", "version", "indicators", "entry"],
        "additionalProperties": False,
        "properties": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "the strategy's name, 1 to 200 characters",
            },
            "version": {"const": 1, "description": "the spec format version: 1"},
            "description": {
                "type": "string",
                "maxLength": 5000,
                "description": "free text, at most 5000 characters",
            },
            "parameters": {
                "type": "object",
                "maxProperties": MAX_PARAMETERS,
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {
                    "type": "number",
                    "description": "a parameter's value: a number",
                },
                "description": (
                    'named numbers that conditions use as {"param": "name"} '
                    f'and a sweep can vary, e.g. {{"rsi_max": 70}}; {NAME_RULE}'
                ),
            },
            "indicators": {
                "type": "object",
                "maxProperties": MAX_INDICATORS,
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/indicator"},
                "description": (
                    'indicators by name, e.g. {"fast": {"type": "EMA", '
                    f'"period": 9}}}}; {NAME_RULE}'
                ),
            },
            "entry": _sides(1, "when to open a trade"),
            "exit": _sides(0, "when to close an open trade"),
            "risk": {
                "type": "object",
                "additionalProperties": False,
                "description": "risk settings: stop_loss_pct, take_profit_pct, size_pct",
                "properties": {
                    "stop_loss_pct": {
                        "type": ["number", "null"],
                        "exclusiveMinimum": 0,
                        "exclusiveMaximum": 100,
                        "description": f"stop-loss distance from the signal bar's close, "
                        f"{pct} above 0 and below 100 (2.0 = 2%), or null "
                        "for none",
                    },
                    "take_profit_pct": {
                        "type": ["number", "null"],
                        "exclusiveMinimum": 0,
                        "maximum": 10000,
                        "description": f"take-profit distance from the signal bar's close, "
                        f"{pct} above 0 and at most 10000 (5.0 = 5%), or "
                        "null for none",
                    },
                    "size_pct": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "maximum": 100,
                        "description": f"share of equity each entry uses, {pct} above 0 "
                        "and at most 100 (default 100 = all in)",
                    },
                },
            },
        },
        "$defs": {
            "indicator": _indicator_schema(),
            "source": {
                "type": "string",
                "minLength": 1,
                "description": (
                    f"what the indicator is computed from: a price field "
                    f"({', '.join(PRICE_FIELDS)}) or another indicator or "
                    'output ("rsi", "macd.hist"); default close'
                ),
            },
            "condition": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
                "description": CONDITION_HELP,
                "properties": {
                    **{op: _operand_list(2, '["fast", "slow"]') for op in CROSSES},
                    **{op: _operand_list(2, '["rsi", 70]') for op in COMPARISONS},
                    "between": _operand_list(3, '["rsi", 30, 70] (low <= x <= high)'),
                    **{
                        op: {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "#/$defs/condition"},
                            "description": f"a list of one or more conditions ({op} of "
                            "them must hold)",
                        }
                        for op in GROUPS
                    },
                    "not": {"$ref": "#/$defs/condition"},
                },
            },
            "operand": {
                "type": ["number", "string", "object"],
                "description": OPERAND_HELP,
                "additionalProperties": False,
                "properties": {
                    "ref": {
                        "type": "string",
                        "minLength": 1,
                        "description": "an indicator, an indicator output or a price "
                        'field, e.g. "close" or "macd.signal"',
                    },
                    "shift": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": MAX_SHIFT,
                        "description": f"how many bars ago: a whole number from 0 to "
                        f"{MAX_SHIFT} (1 = the previous bar)",
                    },
                    "param": {
                        "type": "string",
                        "pattern": NAME_PATTERN,
                        "description": "the name of an entry of parameters",
                    },
                },
                "if": {"required": ["param"]},
                "then": {"maxProperties": 1},
                "else": {"required": ["ref"]},
            },
        },
    }


SCHEMA: dict = build_schema()
