"""``to_python``: a spec as the source of an equivalent ``algobt.Strategy`` subclass.

The class reads like the rules: parameters as class attributes, indicators in
``init()`` through ``self.I``, and in ``next()`` the four signals in words followed
by ``SignalStrategy``'s decision rules (exits first, one entry at a time), so
``Backtest(data, Exported).run()`` gives the trades of ``run_spec``.
"""

from __future__ import annotations

import keyword
import re

from algobt.engine.indicators import INDICATOR_SPECS
from algobt.engine.rules._spec import Condition, Operand, Spec, parse_spec
from algobt.engine.strategy import Strategy

_COLUMNS = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"}
_DERIVED = {
    "hl2": "(self.data.High + self.data.Low) / 2",
    "hlc3": "(self.data.High + self.data.Low + self.data.Close) / 3",
    "ohlc4": "(self.data.Open + self.data.High + self.data.Low + self.data.Close) / 4",
}
_SYMBOLS = {"gt": ">", "lt": "<", "ge": ">=", "le": "<="}
_WIDTH = 100  # the project's ruff line length
_LOCALS = (
    "long_entry",
    "long_exit",
    "short_entry",
    "short_exit",
    "is_long",
    "is_short",
    "closing",
    "price",
    "self",
)
_AGO = '''

def ago(series, bars):
    """The value ``bars`` bars before the current one (NaN before the data starts)."""
    return series[-1 - bars] if len(series) > bars else float("nan")
'''


class _Names:
    """Unique Python names: never a keyword, a Strategy member or a name already used."""

    def __init__(self, taken=()):
        self.taken = (
            set(taken)
            | set(keyword.kwlist)
            | set(keyword.softkwlist)
            | {n for n in dir(Strategy) if not n.startswith("__")}
        )

    def add(self, base: str) -> str:
        base = re.sub(r"\W", "_", base) or "x"
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name


def _number(value) -> str:
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _class_name(title: str, avoid) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "RuleStrategy"
    if name[0].isdigit():
        name = "Strategy" + name
    if keyword.iskeyword(name) or name in avoid:
        name += "Rules"
    return name


def _docstring(text: str, indent: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    lines = text.splitlines() or [""]
    body = "\n".join((indent + line).rstrip() for line in lines[1:])
    return f'{indent}"""{lines[0]}' + (f"\n{body}\n{indent}" if body else "") + '"""'


class _Writer:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.funcs = sorted({ind.type for ind in spec.indicators.values()})
        self.used_crossover = False
        self.used_ago = False
        names = _Names()
        self.attr: dict[tuple, str] = {}  # ("param", ind, key) / ("user", name) / ...
        for ind in spec.indicators.values():
            for key, value in ind.params.items():
                suffix = key
                if isinstance(value, int) and "period" not in key:
                    suffix = f"{key}_period"
                self.attr[("param", ind.name, key)] = names.add(f"{ind.name}_{suffix}")
        for name in spec.parameters:
            self.attr[("user", name)] = names.add(name)
        for key, value in (
            ("stop_loss_pct", spec.stop_loss_pct),
            ("take_profit_pct", spec.take_profit_pct),
            ("size_pct", spec.size_pct if spec.size_pct < 100 else None),
        ):
            if value is not None:
                self.attr[("risk", key)] = names.add(key)
        for ind in spec.indicators.values():
            self.attr[("ind", ind.name)] = names.add(ind.name)
        for field in _DERIVED:
            if self._uses_price(field):
                self.attr[("price", field)] = names.add(field)
        local_names = _Names(names.taken | {"ago", "crossover", *self.funcs} | set(_LOCALS))
        self.local: dict[tuple[str, int], str] = {}
        for ind in spec.indicators.values():
            if len(ind.outputs) > 1 and self._uses_indicator(ind.name):
                for k, out in enumerate(ind.outputs):
                    base = f"{ind.name}_{'line' if out == ind.name.lower() else out}"
                    self.local[(ind.name, k)] = local_names.add(base)

    # --- what the rules use ---------------------------------------------------------
    def _operands(self):
        stack = [*self.spec.entry.values(), *self.spec.exit.values()]
        while stack:
            cond = stack.pop()
            for arg in cond.args:
                if isinstance(arg, Condition):
                    stack.append(arg)
                else:
                    yield arg

    def _uses_price(self, field: str) -> bool:
        sources = [i.source for i in self.spec.indicators.values() if i.source is not None]
        return any(o.kind == "price" and o.name == field for o in [*self._operands(), *sources])

    def _uses_indicator(self, name: str) -> bool:
        return any(o.kind == "indicator" and o.name == name for o in self._operands())

    # --- operands -------------------------------------------------------------------
    def _full(self, op: Operand, *, in_init: bool = False) -> str:
        """The whole series (up to the current bar in next())."""
        if op.kind == "price":
            if op.name in _COLUMNS:
                return f"self.data.{_COLUMNS[op.name]}"
            return f"self.{self.attr[('price', op.name)]}"
        ind = self.spec.indicators[op.name]
        series = f"self.{self.attr[('ind', op.name)]}"
        if len(ind.outputs) == 1:
            return series
        if in_init:
            return f"{series}[{op.output}]"
        return self.local[(op.name, op.output)]

    def _constant(self, op: Operand) -> str | None:
        if op.kind == "number":
            return _number(op.value)
        if op.kind == "param":
            return f"self.{self.attr[('user', op.name)]}"
        return None

    def scalar(self, op: Operand) -> str:
        constant = self._constant(op)
        if constant is not None:
            return constant
        if op.shift:
            self.used_ago = True
            return f"ago({self._full(op)}, {op.shift})"
        return f"{self._full(op)}[-1]"

    def series(self, op: Operand) -> str:
        constant = self._constant(op)
        if constant is not None:
            return constant
        return self._full(op) + (f"[:-{op.shift}]" if op.shift else "")

    # --- conditions -----------------------------------------------------------------
    def expr(self, cond: Condition, top: bool = False) -> str:
        op, args = cond.op, cond.args
        if op in ("all", "any"):
            parts = [self.expr(c) for c in args]
            if len(parts) == 1:
                return parts[0]
            text = f" {'and' if op == 'all' else 'or'} ".join(parts)
            return text if top else f"({text})"
        if op == "not":
            return f"not ({self.expr(args[0], top=True)})"
        if op in ("crosses_above", "crosses_below"):
            self.used_crossover = True
            a, b = (self.series(x) for x in args)
            return f"crossover({a}, {b})" if op == "crosses_above" else f"crossover({b}, {a})"
        if op == "between":
            x, low, high = (self.scalar(a) for a in args)
            return f"{low} <= {x} <= {high}"
        a, b = (self.scalar(x) for x in args)
        return f"{a} {_SYMBOLS[op]} {b}"

    def assignment(self, name: str, cond: Condition) -> list[str]:
        pad = " " * 8
        text = self.expr(cond, top=True)
        line = f"{pad}{name} = {text}"
        if len(line) <= _WIDTH or cond.op not in ("all", "any") or len(cond.args) < 2:
            return [line]
        joiner = "and" if cond.op == "all" else "or"
        parts = [self.expr(c) for c in cond.args]
        return (
            [f"{pad}{name} = (", f"{pad}    {parts[0]}"]
            + [f"{pad}    {joiner} {p}" for p in parts[1:]]
            + [f"{pad})"]
        )

    # --- words for the docstring ------------------------------------------------------
    def words(self, cond: Condition, top: bool = False) -> str:
        op, args = cond.op, cond.args
        if op in ("all", "any"):
            inner = [self.words(c) for c in args]
            if len(inner) == 1:
                return inner[0]
            joined = f" {'and' if op == 'all' else 'or'} ".join(inner)
            return joined if top else f"({joined})"
        if op == "not":
            return f"not ({self.words(args[0], True)})"
        w = [self._word(a) for a in args]
        if op == "between":
            return f"{w[0]} is between {w[1]} and {w[2]}"
        if op in ("crosses_above", "crosses_below"):
            return f"{w[0]} crosses {op.split('_')[1]} {w[1]}"
        return f"{w[0]} {_SYMBOLS[op]} {w[1]}"

    def _word(self, op: Operand) -> str:
        if op.kind == "number":
            return _number(op.value)
        if op.kind == "param":
            return op.name
        text = op.name
        if op.kind == "indicator":
            ind = self.spec.indicators[op.name]
            if len(ind.outputs) > 1:
                text += f".{ind.outputs[op.output]}"
        if op.shift:
            text += f" {op.shift} bar{'s' if op.shift > 1 else ''} ago"
        return text

    # --- the module -----------------------------------------------------------------
    def module(self) -> str:
        spec = self.spec
        sides = [s for s in ("long", "short") if s in spec.entry]
        init = [
            _i_call(self.attr[("price", field)], [f"lambda: {code}", f'name="{field}"'])
            for field, code in _DERIVED.items()
            if ("price", field) in self.attr
        ]
        init += [self._indicator_line(ind) for ind in spec.indicators.values()]
        body = self._next_body(sides)
        class_name = _class_name(spec.name, {"Strategy", *self.funcs, "ago", "crossover"})

        rules = []
        for side in sides:
            rules.append(f"{side.capitalize()} entry: {self.words(spec.entry[side], True)}.")
            if side in spec.exit:
                rules.append(f"{side.capitalize()} exit: {self.words(spec.exit[side], True)}.")
        risk = []
        if spec.stop_loss_pct is not None:
            risk.append(f"stop-loss {_number(spec.stop_loss_pct)}% from the signal bar's close")
        if spec.take_profit_pct is not None:
            risk.append(f"take-profit {_number(spec.take_profit_pct)}%")
        if spec.size_pct < 100:
            risk.append(f"{_number(spec.size_pct)}% of equity per entry")
        if risk:
            rules.append("Risk: " + ", ".join(risk) + ".")
        doc = spec.name + ("\n\n" + spec.description if spec.description else "")
        doc += "\n\n" + "\n".join(rules)

        lines = [
            _docstring(
                spec.name + "\n\nExported by algobt.engine.rules.to_python from "
                "a canonical JSON strategy spec.\nSignals act in next() on the bar "
                "where they turn true; market orders fill at the\nnext bar's open.",
                "",
            ),
            "",
            "from algobt import Strategy",
        ]
        imports = [*self.funcs, *(["crossover"] if self.used_crossover else [])]
        if imports:
            lines.append(f"from algobt.lib import {', '.join(imports)}")
        if self.used_ago:
            lines.append(_AGO.rstrip("\n"))
        lines += ["", "", f"class {class_name}(Strategy):", _docstring(doc, "    "), ""]
        for (kind, *key), name in self.attr.items():
            if kind == "param":
                value = spec.indicators[key[0]].params[key[1]]
            elif kind == "user":
                value = spec.parameters[key[0]]
            elif kind == "risk":
                value = getattr(spec, key[0])
            else:
                continue
            lines.append(f"    {name} = {value!r}")
        lines += ["", "    def init(self):"] + (init or ["        pass"])
        lines += ["", "    def next(self):"] + body
        return "\n".join(lines) + "\n"

    def _indicator_line(self, ind) -> str:
        reg = INDICATOR_SPECS[ind.type]
        if ind.source is None:
            inputs = [f"self.data.{_COLUMNS[k]}" for k in reg.inputs]
        else:
            inputs = [self._full(ind.source, in_init=True)]
        params = [f"self.{self.attr[('param', ind.name, k)]}" for k in ind.params]
        comment = ""
        if ind.source is not None and ind.source.kind == "indicator":
            src = self.spec.indicators[ind.source.name]
            if len(src.outputs) > 1:
                comment = f"  # {ind.source.name}.{src.outputs[ind.source.output]}"
        args = [ind.type, *inputs, *params, f'name="{ind.name}"']
        return _i_call(self.attr[("ind", ind.name)], args, comment)

    def _next_body(self, sides) -> list[str]:
        spec, pad = self.spec, " " * 8
        body = []
        for ind in spec.indicators.values():
            names = [self.local.get((ind.name, k)) for k in range(len(ind.outputs))]
            if names[0]:
                body.append(f"{pad}{', '.join(names)} = self.{self.attr[('ind', ind.name)]}")
        for side in sides:
            body += self.assignment(f"{side}_entry", spec.entry[side])
            if side in spec.exit:
                body += self.assignment(f"{side}_exit", spec.exit[side])
        body.append("")
        orders = {"long": self._order("buy", "-", "+"), "short": self._order("sell", "+", "-")}
        if len(sides) == 1:
            side = sides[0]
            flag = f"is_{side}"
            body.append(f"{pad}{flag} = self.position.{flag}")
            if side in spec.exit:
                body += [f"{pad}if {flag} and {side}_exit:", f"{pad}    self.position.close()"]
            body += [
                f"{pad}# A trade exited on this bar is not re-entered on it.",
                f"{pad}if {side}_entry and not {flag}:",
                *orders[side],
            ]
            return body
        exits = [f"is_{s} and {s}_exit" for s in sides if s in spec.exit]
        if len(exits) > 1:
            exits = [f"({e})" for e in exits]
        body += [f"{pad}is_long, is_short = self.position.is_long, self.position.is_short"]
        if exits:
            body += [
                f"{pad}# Exits first; the position was read before them, so a trade",
                f"{pad}# exited on this bar is not re-entered on it.",
                f"{pad}closing = {' or '.join(exits)}",
                f"{pad}if closing:",
                f"{pad}    self.position.close()",
            ]
        reverse = "not closing" if exits else None
        body.append(f"{pad}# At most one entry: a bar that signals both sides enters neither.")
        for keyword_, side, other in (("if", "long", "short"), ("elif", "short", "long")):
            body.append(f"{pad}{keyword_} {side}_entry and not {other}_entry and not is_{side}:")
            cond = f"is_{other} and {reverse}" if reverse else f"is_{other}"
            body += [f"{pad}    if {cond}:", f"{pad}        self.position.close()", *orders[side]]
        return body

    def _order(self, method: str, sl_sign: str, tp_sign: str) -> list[str]:
        pad = " " * 12
        args = []
        if ("risk", "size_pct") in self.attr:
            args.append(f"size=self.{self.attr[('risk', 'size_pct')]} / 100")
        if ("risk", "stop_loss_pct") in self.attr:
            args.append(
                f"sl=price * (1 {sl_sign} self.{self.attr[('risk', 'stop_loss_pct')]} / 100)"
            )
        if ("risk", "take_profit_pct") in self.attr:
            args.append(
                f"tp=price * (1 {tp_sign} self.{self.attr[('risk', 'take_profit_pct')]} / 100)"
            )
        if not args:
            return [f"{pad}self.{method}()"]
        lines = (
            [f"{pad}price = self.data.Close[-1]"]
            if any(a.startswith(("sl=", "tp=")) for a in args)
            else []
        )
        call = f"{pad}self.{method}({', '.join(args)})"
        if len(call) <= _WIDTH:
            return [*lines, call]
        return [*lines, f"{pad}self.{method}("] + [f"{pad}    {a}," for a in args] + [f"{pad})"]


def _i_call(attribute: str, args: list[str], comment: str = "") -> str:
    """``self.x = self.I(args)`` as one line, or wrapped the way ruff formats it."""
    head = f"        self.{attribute} = self.I("
    line = head + ", ".join(args) + ")" + comment
    if len(line) <= _WIDTH:
        return line
    inner = " " * 12 + ", ".join(args)
    if len(inner) > _WIDTH:
        inner = "".join(f"{' ' * 12}{a},\n" for a in args).rstrip("\n")
    return f"{head}\n{inner}\n        ){comment}"


def to_python(spec) -> str:
    """Python source of a ``Strategy`` subclass equivalent to the spec: same
    indicators (``self.I``), same rules (``algobt.lib.crossover`` for crosses), the
    same trades under ``Backtest`` as ``run_spec`` under ``from_signals``.

    >>> source = to_python({"name": "Up day", "version": 1, "indicators": {},
    ...                     "entry": {"long": {"gt": ["close", "open"]}}})
    >>> "class UpDay(Strategy):" in source
    True
    """
    return _Writer(parse_spec(spec)).module()
