"""Checking a spec: JSON Schema for the shape, then what a schema cannot say.

Every problem becomes ``{"path": "$.entry.long.all[0].crosses_above[1]", "message":
"..."}``: the JSON path of the offending value and, in words a web-UI user can act
on, what is wrong and what is allowed there. Size and depth are checked first,
without recursion, so a hostile document cannot exhaust the stack.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque

from algobt.engine.indicators import INDICATOR_SPECS
from algobt.engine.rules._messages import (
    describe,
    hint,
    issue,
    quoted,
    schema_issues,
)
from algobt.engine.rules._schema import (
    GROUPS,
    MAX_CONDITION_DEPTH,
    MAX_ISSUES,
    MAX_JSON_DEPTH,
    MAX_NODES,
    OPERAND_HELP,
    OPERATORS,
    PRICE_FIELDS,
    SIDES,
)

_BRACKET_SHIFT = re.compile(r"^\s*([^\[\]]+?)\s*\[\s*(-?\d+)\s*\]\s*$")

# --------------------------------------------------------------------------------------
# pass 1: size and depth, before anything recursive touches the document
# --------------------------------------------------------------------------------------


def _limits(doc: dict) -> list[dict]:
    issues: list[dict] = []
    # Any JSON nesting, and non-finite numbers (JSON has none, Python's json accepts NaN).
    stack = [(doc, (), 0)]
    too_deep = None
    while stack:
        value, parts, depth = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            word = "NaN" if value != value else "Infinity"
            issues.append(
                issue(
                    parts,
                    f"{word} is not allowed: use a finite number (JSON "
                    "itself has no NaN or Infinity)",
                )
            )
        elif isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                too_deep = too_deep or parts
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((v, (*parts, k), depth + 1) for k, v in items)
    # Condition trees, breadth first so the shallowest offender is named.
    nodes = 0
    for group in ("entry", "exit"):
        sides = doc.get(group)
        if not isinstance(sides, dict):
            continue
        for side in SIDES:
            queue = deque([(sides.get(side), (group, side), 1)])
            while queue:
                node, parts, depth = queue.popleft()
                if not isinstance(node, dict):
                    continue
                # This condition plus its operands; child conditions count on their visit.
                nodes += 1 + sum(
                    len(v) for k, v in node.items() if isinstance(v, list) and k not in GROUPS
                )
                if nodes > MAX_NODES:
                    issues.append(
                        issue(
                            (group, side),
                            f"the conditions have more than {MAX_NODES} conditions and operands "
                            "in all; simplify the rules",
                        )
                    )
                    return issues
                if depth > MAX_CONDITION_DEPTH:
                    issues.append(
                        issue(
                            parts,
                            f"conditions are nested more than {MAX_CONDITION_DEPTH} levels deep "
                            'here; flatten them, e.g. {"all": [a, b, c]} instead of all inside '
                            "all",
                        )
                    )
                    return issues
                for op, arg in node.items():
                    if op == "not":
                        queue.append((arg, (*parts, op), depth + 1))
                    elif op in GROUPS and isinstance(arg, list):
                        queue.extend((c, (*parts, op, i), depth + 1) for i, c in enumerate(arg))
    if too_deep is not None:
        issues.append(
            issue(too_deep, f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep here")
        )
    return issues


# --------------------------------------------------------------------------------------
# pass 3: references, cycles and the rest of the meaning
# --------------------------------------------------------------------------------------


def _indicator_outputs(indicators: dict, name: str):
    """Output names of an indicator, or None when its type is unknown (already reported)."""
    definition = indicators.get(name)
    itype = definition.get("type") if isinstance(definition, dict) else None
    known = isinstance(itype, str) and itype in INDICATOR_SPECS
    return INDICATOR_SPECS[itype].outputs if known else None


def resolve_name(text: str, indicators: dict):
    """Resolve an operand or source string: ``(kind, name, output_index, problem)``.

    kind is ``"price"`` or ``"indicator"``; ``problem`` is an error message or None.
    """
    if text in PRICE_FIELDS:
        return "price", text, None, None
    if text.lower() in PRICE_FIELDS:
        return (
            None,
            None,
            None,
            (
                f"unknown name {json.dumps(text)}; price fields are "
                f"lower case: {json.dumps(text.lower())}."
            ),
        )
    bracket = _BRACKET_SHIFT.match(text)
    if bracket:
        ref, shift = bracket.groups()
        return (
            None,
            None,
            None,
            (
                f"{json.dumps(text)}: to use a value from n bars ago write "
                f'{{"ref": {json.dumps(ref)}, "shift": {max(int(shift), 0)}}}.'
            ),
        )
    name, dot, output = text.partition(".")
    if name not in indicators:
        known = list(indicators)
        listing = (
            f"Indicators here: {quoted(known)}. " if known else "This spec declares no indicators. "
        )
        return (
            None,
            None,
            None,
            (
                f"{json.dumps(text)} is neither an indicator of this spec nor a price field"
                f"{hint(name, [*known, *PRICE_FIELDS])} {listing}"
                f"Price fields: {', '.join(PRICE_FIELDS)}."
            ),
        )
    outputs = _indicator_outputs(indicators, name)
    if outputs is None:
        return "indicator", name, None, None
    itype = indicators[name]["type"]
    choices = ", ".join(f"{name}.{o}" for o in outputs)
    if not dot:
        if len(outputs) > 1:
            return (
                None,
                None,
                None,
                (
                    f"{json.dumps(name)} is a {itype} with {len(outputs)} "
                    f"outputs; name one: {choices}."
                ),
            )
        return "indicator", name, 0, None
    if output not in outputs:
        return (
            None,
            None,
            None,
            (
                f"{json.dumps(text)}: {itype} {json.dumps(name)} has no "
                f"output {json.dumps(output)}{hint(output, outputs)} "
                f"Its outputs: {choices}."
            ),
        )
    return "indicator", name, outputs.index(output), None


def _semantic_issues(doc: dict) -> list[dict]:
    issues: list[dict] = []
    if "indicators" in doc and not isinstance(doc["indicators"], dict):
        return issues  # the schema has said so; every reference would fail with it
    indicators = doc.get("indicators", {})
    parameters = doc.get("parameters") if isinstance(doc.get("parameters"), dict) else {}

    sources: dict[str, str] = {}
    for name, definition in indicators.items():
        if name.lower() in PRICE_FIELDS:
            issues.append(
                issue(
                    ("indicators", name),
                    f"{json.dumps(name)} is a price field; give the indicator another name.",
                )
            )
        if not isinstance(definition, dict):
            continue
        itype = definition.get("type")
        if itype == "MACD":
            fast, slow = definition.get("fast", 12), definition.get("slow", 26)
            if isinstance(fast, int | float) and isinstance(slow, int | float) and fast > slow:
                issues.append(
                    issue(
                        ("indicators", name, "fast"),
                        f"MACD fast ({fast}) must not exceed slow ({slow}); swap them.",
                    )
                )
        source = definition.get("source")
        if isinstance(source, str) and source:
            kind, ref, _, problem = resolve_name(source, indicators)
            if problem:
                issues.append(issue(("indicators", name, "source"), problem))
            elif kind == "indicator":
                sources[name] = ref
    issues.extend(_cycles(sources))

    for group in ("entry", "exit"):
        sides = doc.get(group)
        if not isinstance(sides, dict):
            continue
        for side in SIDES:
            if side in sides:
                _check_condition(sides[side], (group, side), indicators, parameters, issues)
    exits, entries = doc.get("exit"), doc.get("entry")
    if isinstance(exits, dict) and isinstance(entries, dict) and set(entries) & set(SIDES):
        for side in SIDES:
            if side in exits and side not in entries:
                issues.append(
                    issue(
                        ("exit", side),
                        f"there is no entry.{side}, so exit.{side} would never "
                        f"act; remove it or add entry.{side}.",
                    )
                )
    risk = doc.get("risk")
    tp = risk.get("take_profit_pct") if isinstance(risk, dict) else None
    if (
        isinstance(entries, dict)
        and "short" in entries
        and isinstance(tp, int | float)
        and not isinstance(tp, bool)
        and tp >= 100
    ):
        issues.append(
            issue(
                ("risk", "take_profit_pct"),
                f"{tp!r} is too large for short trades: a short's take-profit "
                "price must stay above 0, so use less than 100.",
            )
        )
    return issues


def _cycles(sources: dict[str, str]) -> list[dict]:
    issues, done = [], set()
    for start in sources:
        chain, node = [], start
        while node in sources and node not in done and node not in chain:
            chain.append(node)
            node = sources[node]
        if node in chain:
            loop = chain[chain.index(node) :]
            words = " -> ".join(json.dumps(n) for n in [*loop, node])
            issues.append(
                issue(
                    ("indicators", loop[0], "source"),
                    f"indicator sources form a cycle ({words}); a source must "
                    "be a price field or an indicator that does not depend on "
                    "this one.",
                )
            )
        done.update(chain)
    return issues


def _check_condition(node, parts, indicators, parameters, issues):
    stack = [(node, parts)]
    while stack:
        node, parts = stack.pop()
        if not isinstance(node, dict) or len(node) != 1:
            continue  # the schema has said what is wrong
        ((op, arg),) = node.items()
        if op == "not":
            stack.append((arg, (*parts, op)))
        elif op in GROUPS and isinstance(arg, list):
            stack.extend((c, (*parts, op, i)) for i, c in enumerate(arg))
        elif op in OPERATORS and isinstance(arg, list):
            constant = True
            for i, operand in enumerate(arg):
                constant &= _check_operand(operand, (*parts, op, i), indicators, parameters, issues)
            if constant and len(arg) in (2, 3):
                issues.append(
                    issue(
                        (*parts, op),
                        "every operand is a fixed number, so this condition "
                        "never changes; compare at least one indicator or "
                        f"price. Allowed operands: {OPERAND_HELP}.",
                    )
                )


def _check_operand(operand, parts, indicators, parameters, issues) -> bool:
    """Report problems with one operand; return whether it is a constant."""
    if isinstance(operand, bool):
        return False  # the schema reports it
    if isinstance(operand, int | float):
        return True
    if isinstance(operand, str):
        text, where = operand, parts
    elif isinstance(operand, dict) and isinstance(operand.get("param"), str):
        name = operand["param"]
        if name not in parameters:
            known = (
                f"Parameters here: {quoted(parameters)}."
                if parameters
                else 'This spec has no "parameters"; add e.g. "parameters": '
                f"{{{json.dumps(name)}: 70}}."
            )
            issues.append(
                issue(
                    (*parts, "param"),
                    f"unknown parameter {json.dumps(name)}{hint(name, parameters)} {known}",
                )
            )
        return True
    elif isinstance(operand, dict) and isinstance(operand.get("ref"), str):
        text, where = operand["ref"], (*parts, "ref")
    else:
        return False
    if text or where is parts:  # an empty "ref" is the schema's to report
        problem = resolve_name(text, indicators)[3]
        if problem:
            issues.append(issue(where, problem))
    return False


# --------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------


def check_document(doc) -> list[dict]:
    """All problems of a decoded spec document, in document order where possible."""
    if not isinstance(doc, dict):
        return _public(
            [
                issue(
                    (),
                    f'a strategy spec must be a JSON object {{"name": ..., '
                    f'"version": 1, "indicators": ..., "entry": ...}}, got '
                    f"{describe(doc)}.",
                )
            ]
        )
    issues = _limits(doc)
    if issues:
        return _public(issues)
    issues = schema_issues(doc) + _semantic_issues(doc)[:MAX_ISSUES]
    issues.sort(key=lambda item: _position(doc, item["_parts"]))
    seen, unique = set(), []
    for item in issues:
        key = (item["path"], item["message"])
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return _public(unique[:MAX_ISSUES])


def _public(issues: list[dict]) -> list[dict]:
    return [{"path": i["path"], "message": i["message"]} for i in issues]


def _position(doc, parts) -> tuple:
    """Where a path sits in the document, for listing problems top to bottom."""
    out, node = [], doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            out.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        else:
            out.append(1 << 30)
            node = None
    return tuple(out)
