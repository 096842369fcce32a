"""JSON paths and the words of error messages, including jsonschema's errors retold.

jsonschema says what failed in its own terms ("Additional properties are not
allowed"); ``schema_issues`` says it the way a web-UI user can act on: what is wrong
at which path, a did-you-mean hint, and the node's ``description`` (what is allowed
there).
"""

from __future__ import annotations

import json
import re
from difflib import get_close_matches
from functools import cache

from algobt.engine.indicators import INDICATOR_SPECS
from algobt.engine.rules._schema import (
    CONDITION_HELP,
    MAX_ISSUES,
    NAME_RULE,
    OPERATORS,
    SCHEMA,
)


@cache
def _validator():
    """The schema's validator, made on first use: importing jsonschema costs about a
    second where ``rfc3987-syntax`` is installed (it builds a grammar at import, and
    Jupyter installs it), which a run that checks no JSON rules should not pay."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(SCHEMA)


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# --------------------------------------------------------------------------------------
# paths and small helpers
# --------------------------------------------------------------------------------------


def json_path(parts) -> str:
    """``("entry", "long", "all", 0)`` -> ``"$.entry.long.all[0]"``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            out += "[" + json.dumps(part) + "]"
    return out


def issue(parts, message: str) -> dict:
    return {"path": json_path(parts), "message": message, "_parts": tuple(parts)}


def describe(value) -> str:
    """A value as a user would name it: 'the text "abc"', 'a list', ..."""
    if isinstance(value, bool):
        return f"{'true' if value else 'false'}"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return "the text " + json.dumps(text)
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "string": "text in quotes",
    "object": "an object {...}",
    "array": "a list [...]",
    "boolean": "true or false",
    "null": "null",
}


def hint(word: str, choices) -> str:
    choices = list(choices)
    by_case = [c for c in choices if c.lower() == str(word).lower()]
    inside = [c for c in choices if len(str(word)) >= 3 and str(word).lower() in c.lower()]
    close = by_case or get_close_matches(str(word), choices, n=1, cutoff=0.6) or inside
    return f"; did you mean {json.dumps(close[0])}?" if close else "."


def quoted(names) -> str:
    return ", ".join(json.dumps(n) for n in names)


# --------------------------------------------------------------------------------------
# pass 2: the schema, with its errors put in words
# --------------------------------------------------------------------------------------


def schema_issues(doc: dict) -> list[dict]:
    """The schema's complaints in words, at most ``MAX_ISSUES`` of them."""
    issues = []
    for error in _validator().iter_errors(doc):
        issues.extend(_translate(error))
        if len(issues) >= MAX_ISSUES:
            break
    return issues[:MAX_ISSUES]


def _translate(error) -> list[dict]:
    parts = tuple(error.absolute_path)
    kind, value, schema = error.validator, error.instance, error.schema
    help_text = schema.get("description", "")
    allowed = f" Allowed here: {help_text}." if help_text else ""
    props = schema.get("properties", {})
    last = parts[-1] if parts else None

    if "propertyNames" in error.relative_schema_path:
        return [issue((*parts, value), f"{json.dumps(value)} is not a valid name: {NAME_RULE}.")]
    if kind == "type":
        expected = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
        extra = ""
        if isinstance(value, str) and help_text == CONDITION_HELP:
            extra = ' Conditions are objects, not formulas: e.g. {"gt": ["fast", "slow"]}.'
        return [issue(parts, f"expected {words}, got {describe(value)}.{extra}{allowed}")]
    if kind == "required":
        missing = [k for k in error.validator_value if k not in value]
        if missing == ["ref"] and not props:
            return [
                issue(
                    parts,
                    'an operand object needs "ref" (a value n bars ago, '
                    'e.g. {"ref": "close", "shift": 1}) or "param" (e.g. '
                    '{"param": "rsi_max"}).',
                )
            ]
        out = []
        for key in missing:
            what = props.get(key, {}).get("description", "")
            out.append(
                issue(parts, f"missing key {json.dumps(key)}" + (f": {what}." if what else "."))
            )
        return out
    if kind == "additionalProperties":
        out = []
        for key in [k for k in value if k not in props][:MAX_ISSUES]:
            out.append(issue((*parts, key), _unknown_key(key, props, help_text)))
        return out
    if kind == "enum":
        return [
            issue(
                parts,
                f"unknown indicator type {json.dumps(value)}"
                f"{hint(value, error.validator_value)}"
                f" Allowed types: {', '.join(error.validator_value)}.",
            )
            if last == "type"
            else issue(parts, f"{describe(value)} is not allowed.{allowed}")
        ]
    if kind == "const":
        if last == "type":  # the per-type rules only fire when the type matched
            return []
        return [
            issue(
                parts,
                f"expected {json.dumps(error.validator_value)}, got {describe(value)}.{allowed}",
            )
        ]
    if kind in ("minimum", "exclusiveMinimum"):
        return [issue(parts, f"{value!r} is too small.{allowed}")]
    if kind in ("maximum", "exclusiveMaximum"):
        return [issue(parts, f"{value!r} is too large.{allowed}")]
    if kind in ("minItems", "maxItems"):
        noun = "operand(s)" if "operands" in help_text else "item(s)"
        if not value:
            return [issue(parts, f"the list is empty.{allowed}")]
        name = f"{last} " if isinstance(last, str) else ""
        return [issue(parts, f"{name}has {len(value)} {noun}.{allowed}")]
    if kind == "minProperties":
        if "crosses_above" in props:
            return [issue(parts, f"empty condition {{}}. Allowed here: {CONDITION_HELP}.")]
        return [issue(parts, f"must not be empty.{allowed}")]
    if kind == "maxProperties":
        if "crosses_above" in props:
            keys = ", ".join(json.dumps(k) for k in value)
            return [
                issue(
                    parts,
                    f"a condition holds exactly one operator, this one has "
                    f"{len(value)} ({keys}); to require several, list them "
                    'in {"all": [...]}.',
                )
            ]
        if "param" in value:
            others = ", ".join(json.dumps(k) for k in value if k != "param")
            return [
                issue(parts, f'a parameter reference is just {{"param": name}}; remove {others}.')
            ]
        return [
            issue(
                parts,
                f"{last or 'the spec'} has {len(value)} entries; at most "
                f"{error.validator_value} are allowed.",
            )
        ]
    if kind == "minLength":
        return [issue(parts, f"must not be empty.{allowed}")]
    if kind == "maxLength":
        return [
            issue(parts, f"is too long ({len(value)} characters, at most {error.validator_value}).")
        ]
    if kind == "pattern":
        return [issue(parts, f"{json.dumps(value)} is not a valid name: {NAME_RULE}.")]
    return [issue(parts, error.message)]


def _unknown_key(key: str, props: dict, help_text: str) -> str:
    names = list(props)
    if "crosses_above" in props:
        return (
            f"unknown operator {json.dumps(key)}{hint(key, OPERATORS)} "
            f"Allowed here: {CONDITION_HELP}."
        )
    if "ref" in props:
        return (
            f"unknown key {json.dumps(key)} in an operand object; use "
            '{"ref": "close", "shift": 1} or {"param": "name"}.'
        )
    if set(names) == {"long", "short"}:
        return (
            f'unknown side {json.dumps(key)}; use "long" (buy to open) or "short" (sell to open).'
        )
    if "risk" in props:
        risk_keys = list(props["risk"]["properties"])
        close = get_close_matches(key, risk_keys, n=1, cutoff=0.6)
        if close:
            return (
                f'unknown key {json.dumps(key)}; risk settings go in "risk", e.g. '
                f'"risk": {{{json.dumps(close[0])}: ...}}.'
            )
    itype = props.get("type", {}).get("const")
    if itype and key == "source":
        inputs = ", ".join(INDICATOR_SPECS[itype].inputs)
        return f'{itype} is computed from {inputs} and takes no source; remove "source".'
    if itype:
        keys = [k for k in names if k != "type"]
        return (
            f"{itype} has no parameter {json.dumps(key)}{hint(key, keys)} "
            f"{itype} takes: {', '.join(keys) or 'no parameters'}."
        )
    return f"unknown key {json.dumps(key)}{hint(key, names)} Allowed keys here: {', '.join(names)}."
