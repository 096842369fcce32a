"""``Spec``: a checked strategy document, plus parsing and the sweepable parameters."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import NamedTuple

from algobt.engine.indicators import INDICATOR_SPECS
from algobt.engine.rules._schema import (
    GROUPS,
    MAX_TEXT_CHARS,
    REGISTRY_PARAM_NAMES,
    json_params,
    takes_source,
)
from algobt.engine.rules._validate import check_document, resolve_name
from algobt.errors import ConfigError

RISK_KEYS = ("stop_loss_pct", "take_profit_pct", "size_pct")


class Operand(NamedTuple):
    """A resolved operand. kind: ``number`` (value), ``param`` (name), ``price`` (name:
    open/high/.../ohlc4) or ``indicator`` (name, output index); ``shift`` bars ago."""

    kind: str
    name: str | None = None
    output: int | None = None
    shift: int = 0
    value: float | None = None


class Condition(NamedTuple):
    """A condition node: ``op`` and its arguments (Operands, or Conditions for
    all/any/not)."""

    op: str
    args: tuple


@dataclass(frozen=True, eq=False)
class IndicatorDef:
    """One declared indicator: ``type`` from the registry, ``params`` under their JSON
    names with defaults filled in, and ``source`` (None for high/low/close ones)."""

    name: str
    type: str
    params: dict
    source: Operand | None

    @property
    def outputs(self) -> tuple[str, ...]:
        return INDICATOR_SPECS[self.type].outputs

    def registry_kwargs(self) -> dict:
        """The parameters under the indicator function's own argument names."""
        return {REGISTRY_PARAM_NAMES.get(k, k): v for k, v in self.params.items()}


@dataclass(frozen=True, eq=False)
class Spec:
    """A validated canonical JSON strategy. ``document`` is the JSON as given; the
    other fields are its meaning with defaults filled in. Indicators are in
    dependency order (sources before the indicators computed from them)."""

    name: str
    description: str
    parameters: dict
    indicators: dict
    entry: dict
    exit: dict
    stop_loss_pct: float | None
    take_profit_pct: float | None
    size_pct: float
    document: dict = field(repr=False)
    version: int = 1

    def to_dict(self) -> dict:
        """The spec as JSON-ready data (a copy of the validated document)."""
        return copy.deepcopy(self.document)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.document, indent=indent)


# --------------------------------------------------------------------------------------


def _decode(text) -> object:
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8", errors="replace")
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(
            f"the strategy JSON is {len(text)} characters long; at most "
            f"{MAX_TEXT_CHARS} are allowed",
            field="$",
        )

    def no_duplicates(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ConfigError(
                    f"the key {json.dumps(key)} appears twice in one object; keep one", field="$"
                )
            seen.add(key)
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", field="$"
        ) from None
    except RecursionError:
        raise ConfigError("the JSON is nested too deeply", field="$") from None


def _document(spec) -> object:
    if isinstance(spec, Spec):
        return spec.document
    if isinstance(spec, str | bytes | bytearray):
        return _decode(spec)
    return spec


def validate_spec(spec) -> list[dict]:
    """Problems of a spec (a dict, or JSON text), each ``{"path", "message"}``; ``[]``
    when it is valid.

    >>> validate_spec({"name": "x", "version": 1, "indicators": {},
    ...                "entry": {"long": {"gt": ["close", "open"]}}})
    []
    >>> validate_spec({"name": "x", "version": 1, "indicators": {},
    ...                "entry": {"long": {"gt": ["close", "fast"]}}})[0]["path"]
    '$.entry.long.gt[1]'
    """
    try:
        doc = _document(spec)
    except ConfigError as exc:
        return [{"path": "$", "message": exc.message}]
    return check_document(doc)


def parse_spec(spec) -> Spec:
    """A checked ``Spec`` from a dict, JSON text or a ``Spec``; raises ``ConfigError``
    naming the JSON path of the first problem and what is allowed there (all problems
    are in the error's ``errors`` list).

    >>> spec = parse_spec('{"name": "up", "version": 1, "indicators": {}, '
    ...                   '"entry": {"long": {"gt": ["close", "open"]}}}')
    >>> spec.name, spec.size_pct
    ('up', 100)
    """
    if isinstance(spec, Spec):
        return spec
    try:
        doc = _document(spec)
    except ConfigError as exc:
        _refuse([{"path": "$", "message": exc.message}])
    issues = check_document(doc)
    if issues:
        _refuse(issues)
    return _build(copy.deepcopy(doc))


def _refuse(issues: list[dict]):
    """Raise the ConfigError for these problems: paths and messages, the first as field."""
    lines = [f"{i['path']}: {i['message']}" for i in issues[:5]]
    if len(issues) > 5:
        lines.append(f"... and {len(issues) - 5} more problem(s)")
    count = f"{len(issues)} problems" if len(issues) > 1 else "a problem"
    error = ConfigError(
        f"the strategy spec has {count}: " + "\n".join(lines), field=issues[0]["path"]
    )
    error.errors = issues
    raise error


def _build(doc: dict) -> Spec:
    declared = doc.get("indicators", {})
    indicators: dict[str, IndicatorDef] = {}

    def add(name):  # depth-first so sources come first; cycles were refused
        if name in indicators:
            return
        raw = declared[name]
        itype = raw["type"]
        params = {}
        for json_name, param in json_params(itype):
            value = raw.get(json_name, param.default)
            params[json_name] = int(value) if param.kind is int else float(value)
        source = None
        if takes_source(itype):
            source = _operand(raw.get("source", "close"), declared)
            if source.kind == "indicator":
                add(source.name)
        indicators[name] = IndicatorDef(name, itype, params, source)

    for name in declared:
        add(name)
    risk = doc.get("risk", {})
    return Spec(
        name=doc["name"],
        description=doc.get("description", ""),
        parameters=dict(doc.get("parameters", {})),
        indicators=indicators,
        entry={s: _condition(c, declared) for s, c in doc["entry"].items()},
        exit={s: _condition(c, declared) for s, c in doc.get("exit", {}).items()},
        stop_loss_pct=risk.get("stop_loss_pct"),
        take_profit_pct=risk.get("take_profit_pct"),
        size_pct=risk.get("size_pct", 100),
        document=doc,
    )


def _operand(raw, declared) -> Operand:
    if isinstance(raw, int | float):
        return Operand("number", value=float(raw))
    if isinstance(raw, dict) and "param" in raw:
        return Operand("param", raw["param"])
    shift = 0
    if isinstance(raw, dict):
        raw, shift = raw["ref"], int(raw.get("shift", 0))
    kind, name, output, _ = resolve_name(raw, declared)
    return Operand(kind, name, output, shift)


def _condition(raw: dict, declared) -> Condition:
    ((op, arg),) = raw.items()
    if op == "not":
        return Condition(op, (_condition(arg, declared),))
    if op in GROUPS:
        return Condition(op, tuple(_condition(c, declared) for c in arg))
    return Condition(op, tuple(_operand(o, declared) for o in arg))


# --------------------------------------------------------------------------------------
# parameters for sweeps
# --------------------------------------------------------------------------------------


def spec_name(spec) -> str:
    """The spec's ``name``."""
    return parse_spec(spec).name


def spec_parameters(spec) -> dict:
    """The numbers a sweep can vary, flat: indicator parameters as ``"fast.period"``
    (defaults included), the spec's own ``parameters`` by name, and
    ``"risk.stop_loss_pct"``, ``"risk.take_profit_pct"`` (when set) and
    ``"risk.size_pct"``.

    >>> spec_parameters({"name": "x", "version": 1,
    ...                  "indicators": {"fast": {"type": "EMA", "period": 9}},
    ...                  "entry": {"long": {"gt": ["close", "fast"]}}})
    {'fast.period': 9, 'risk.size_pct': 100}
    """
    parsed = parse_spec(spec)
    out: dict = {}
    for name in parsed.document.get("indicators", {}):
        for key, value in parsed.indicators[name].params.items():
            out[f"{name}.{key}"] = value
    out.update(parsed.parameters)
    for key, value in (
        ("stop_loss_pct", parsed.stop_loss_pct),
        ("take_profit_pct", parsed.take_profit_pct),
        ("size_pct", parsed.size_pct),
    ):
        if value is not None:
            out[f"risk.{key}"] = value
    return out


def with_parameters(spec, values: dict):
    """A new spec with some parameters changed (keys as ``spec_parameters`` gives them),
    validated. Returns a ``Spec`` for a ``Spec``, else the new document (a dict).

    >>> base = {"name": "x", "version": 1,
    ...         "indicators": {"fast": {"type": "EMA", "period": 9}},
    ...         "entry": {"long": {"gt": ["close", "fast"]}}}
    >>> with_parameters(base, {"fast.period": 12})["indicators"]["fast"]
    {'type': 'EMA', 'period': 12}
    """
    parsed = parse_spec(spec)
    doc = parsed.to_dict()
    known = list(spec_parameters(parsed))
    for key, value in values.items():
        value = value.item() if hasattr(value, "item") else value
        head, dot, tail = str(key).partition(".")
        target = None
        if dot and head == "risk" and tail in RISK_KEYS:
            target = doc.setdefault("risk", {})
        elif dot and head in parsed.indicators:
            definition = parsed.indicators[head]
            kinds = {n: p.kind for n, p in json_params(definition.type)}
            if tail in kinds:
                target = doc["indicators"][head]
                if kinds[tail] is int and isinstance(value, float) and value.is_integer():
                    value = int(value)
        elif not dot and key in parsed.parameters:
            target = doc["parameters"]
        if target is None:
            close = get_close_matches(str(key), known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"the strategy has no parameter {key!r}.{hint} Its parameters: {', '.join(known)}.",
                field=str(key),
            )
        target[tail if dot else key] = value
    try:
        new = parse_spec(doc)
    except ConfigError as exc:
        first = exc.errors[0]
        raise ConfigError(
            f"these parameter values make the spec invalid: {first['path']}: {first['message']}",
            field=first["path"],
        ) from None
    return new if isinstance(spec, Spec) else new.to_dict()
