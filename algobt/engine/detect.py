"""Telling a Python strategy from a JSON one, and checking either without running it.

``strategy_code`` in a request holds Python source of an ``algobt.Strategy``
subclass or a canonical JSON spec (text or an already decoded object)::

    >>> detect_kind('{"name": "x"}'), detect_kind("class S(Strategy): pass")
    ('json', 'python')
    >>> report = validate_strategy_code("class S(Strategy):\\n    fast = 10\\n")
    >>> report["valid"], report["parameters"]
    (True, {'fast': 10})
"""

from __future__ import annotations

import ast
import bisect
import json
import re
import warnings

from algobt.engine.rules._messages import json_path
from algobt.engine.rules._schema import MAX_TEXT_CHARS
from algobt.engine.rules._spec import Spec, spec_parameters
from algobt.engine.rules._validate import check_document

MAX_CODE_CHARS = 1_000_000


def detect_kind(strategy_code) -> str:
    """``"json"`` for a spec (a dict, a ``Spec``, or text that is a JSON object), else
    ``"python"``."""
    if isinstance(strategy_code, dict | Spec):
        return "json"
    if isinstance(strategy_code, bytes | bytearray):
        strategy_code = strategy_code.decode("utf-8", errors="replace")
    if isinstance(strategy_code, str) and strategy_code.lstrip("\ufeff \t\r\n").startswith("{"):
        return "json"
    return "python"


def validate_strategy_code(code) -> dict:
    """The validate endpoint's answer: ``{"valid", "kind", "errors": [{"line", "column",
    "message"}], "parameters"}``. JSON errors also carry the spec ``path``.

    Python code is parsed, never executed: parameters are the class attributes of
    the (last) ``Strategy`` subclass whose values are literals.
    """
    kind = detect_kind(code)
    if isinstance(code, bytes | bytearray):
        code = code.decode("utf-8", errors="replace")
    errors, parameters = (_check_json if kind == "json" else _check_python)(code)
    return {"valid": not errors, "kind": kind, "errors": errors, "parameters": parameters}


def _error(line, column, message, **extra) -> dict:
    return {"line": line, "column": column, "message": message, **extra}


# --------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------


def _check_json(code):
    text = None
    if isinstance(code, Spec):
        doc = code.document
    elif isinstance(code, dict):
        doc = code
    else:
        text = code.lstrip("\ufeff")
        if len(text) > MAX_TEXT_CHARS:
            return [
                _error(
                    1,
                    1,
                    f"the strategy JSON is {len(text)} characters long; at most "
                    f"{MAX_TEXT_CHARS} are allowed",
                    path="$",
                )
            ], {}
        try:
            doc = json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            return [_error(exc.lineno, exc.colno, f"not valid JSON: {exc.msg}", path="$")], {}
        except _DuplicateKey as exc:
            line, column = _find_key(text, exc.key)
            return [
                _error(
                    line,
                    column,
                    f"the key {json.dumps(exc.key)} appears twice in one object; keep one",
                    path="$",
                )
            ], {}
        except RecursionError:
            return [_error(1, 1, "the JSON is nested too deeply", path="$")], {}
    issues = check_document(doc)
    if not issues:
        return [], spec_parameters(doc)
    places = _locate(text, {i["path"] for i in issues}) if text else {}
    return [
        _error(*places.get(i["path"], (None, None)), i["message"], path=i["path"]) for i in issues
    ], {}


class _DuplicateKey(ValueError):
    def __init__(self, key):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs):
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def _find_key(text: str, key: str) -> tuple[int, int]:
    """Line and column of the last occurrence of ``"key":`` (the duplicate)."""
    matches = list(re.finditer(re.escape(json.dumps(key)) + r"\s*:", text))
    return _line_col(text, matches[-1].start()) if matches else (1, 1)


def _line_col(text: str, offset: int, starts: list[int] | None = None) -> tuple[int, int]:
    if starts is None:
        starts = _line_starts(text)
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer(r"\n", text)]


_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^\s{}\[\]:,"]+))', re.S)


def _locate(text: str, wanted: set[str]) -> dict[str, tuple[int, int]]:
    """Line and column where each wanted JSON path starts in ``text`` (for an object
    member: its key; the closest located ancestor when the path is absent)."""
    starts = _line_starts(text)
    found: dict[str, int] = {}
    stack: list[list] = []  # [parts, is_object, index or key]
    pos, expect_key = 0, False

    def value_parts():
        parts, is_object, where = stack[-1]
        return (*parts, where)

    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        string, punct, literal = m.groups()
        start = m.start(1) if string else m.start(2) if punct else m.start(3)
        if punct in ("}", "]"):
            if stack:
                stack.pop()
            continue
        if punct == ",":
            if stack and stack[-1][1]:
                expect_key = True
            elif stack:
                stack[-1][2] += 1
            continue
        if punct == ":":
            continue
        if string is not None and expect_key:
            try:
                key = json.loads(string)
            except json.JSONDecodeError:
                key = string.strip('"')
            stack[-1][2] = key
            found.setdefault(json_path(value_parts()), start)
            expect_key = False
            continue
        parts = value_parts() if stack else ()
        found.setdefault(json_path(parts), start)
        if punct in ("{", "["):
            stack.append([parts, punct == "{", 0])
            expect_key = punct == "{"
    out = {}
    for path in wanted:
        probe = path
        while probe not in found and len(probe) > 1:
            probe = re.sub(r"(\.[^.\[\]]+|\[[^\]]*\])$", "", probe)
            if probe == path:
                break
        out[path] = _line_col(text, found.get(probe, 0), starts)
    return out


# --------------------------------------------------------------------------------------
# Python
# --------------------------------------------------------------------------------------


def _check_python(code):
    if not isinstance(code, str):
        return [_error(1, 1, f"strategy code must be text, got {type(code).__name__}")], {}
    if not code.strip():
        return [
            _error(
                1,
                1,
                "the strategy code is empty; write a class deriving from Strategy, or a JSON spec",
            )
        ], {}
    if len(code) > MAX_CODE_CHARS:
        return [
            _error(
                1,
                1,
                f"the strategy code is {len(code)} characters long; at most "
                f"{MAX_CODE_CHARS} are allowed",
            )
        ], {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences
            tree = ast.parse(code)
    except SyntaxError as exc:
        return [_error(exc.lineno or 1, exc.offset or 1, f"syntax error: {exc.msg}")], {}
    except (ValueError, RecursionError, MemoryError) as exc:
        return [_error(1, 1, f"the code cannot be parsed: {exc}")], {}

    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    strategies = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and _is_strategy(node, classes, set())
    ]
    if not strategies:
        return [
            _error(
                1,
                1,
                "no class derives from Strategy; write `from algobt import "
                "Strategy` and `class MyStrategy(Strategy):` with init() and "
                "next()",
            )
        ], {}
    return [], _class_parameters(strategies[-1], classes)


def _base_name(base: ast.expr) -> str | None:
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):
        return base.attr
    return None


def _is_strategy(node: ast.ClassDef, classes: dict, seen: set) -> bool:
    if node.name in seen:
        return False
    seen.add(node.name)
    for base in node.bases:
        name = _base_name(base)
        if name == "Strategy" and (isinstance(base, ast.Attribute) or name not in classes):
            return True
        if name in classes and _is_strategy(classes[name], classes, seen):
            return True
    return False


def _class_parameters(node: ast.ClassDef, classes: dict, seen=None) -> dict:
    """Literal class attributes, base classes of this module first."""
    seen = seen or set()
    seen.add(node.name)
    params: dict = {}
    for base in node.bases:
        name = _base_name(base)
        if name in classes and name not in seen:
            params.update(_class_parameters(classes[name], classes, seen))
    for stmt in node.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        literal = _jsonable(literal)
        if literal is _SKIP:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and not target.id.startswith("_"):
                params[target.id] = literal
    return params


_SKIP = object()


def _jsonable(value):
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else _SKIP
    if isinstance(value, list | tuple):
        items = [_jsonable(v) for v in value]
        return _SKIP if any(v is _SKIP for v in items) else items
    return _SKIP


__all__ = ["detect_kind", "validate_strategy_code"]
