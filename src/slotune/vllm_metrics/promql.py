"""A small, tolerant PromQL reader: the series selectors of an expression and the calls around them.

Not a validating parser. It reads what dashboards and alert rules really hold, Grafana template variables
included (`[$__rate_interval]`, `{model_name="$model"}`, `${var}`, `[[var]]`), which a strict PromQL parser
rejects; unbalanced or unknown input never raises, it only yields fewer selectors. What it tells apart: metric
names from function and aggregation names, label names (in `{...}`, `by (...)`, `on (...)`), keywords,
strings, numbers and durations (`[5m]`, `offset 1h`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z_][A-Za-z0-9_:.]*\]\])
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_:]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=])
  | (?P<punct>[(){}\[\],@])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
AGGREGATORS = frozenset(
    {
        "sum",
        "avg",
        "count",
        "min",
        "max",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "limitk",
        "limit_ratio",
    }
)
_GROUPING = frozenset({"by", "without"})
_MATCHING = frozenset({"on", "ignoring", "group_left", "group_right"})
_BINARY_WORDS = frozenset({"and", "or", "unless", "bool", "atan2"})
_MATCH_OPS = frozenset({"=", "!=", "=~", "!~"})
COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # string, var, duration, number, ident, op, punct, other
    text: str
    start: int
    end: int
    templated: bool = False  # an identifier joined with template variables: `vllm:${metric}_total`


def tokenize(expr: str) -> list[Token]:
    """Every token but whitespace and comments; an identifier touching a template variable is one templated
    identifier (Grafana interpolates the variable into the name)."""
    tokens: list[Token] = []
    for m in _TOKEN.finditer(expr):
        kind = m.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        tok = Token(kind, m.group(), m.start(), m.end())
        last = tokens[-1] if tokens else None
        if (
            last is not None
            and last.end == tok.start
            and {last.kind, tok.kind} <= {"ident", "var"}
            and "ident" in (last.kind, tok.kind)
        ):
            tokens[-1] = Token("ident", last.text + tok.text, last.start, tok.end, templated=True)
            continue
        tokens.append(tok)
    return tokens


def unquote(text: str) -> str:
    """A PromQL string literal's value ("a\\"b" -> a"b; raw `...` strings keep backslashes)."""
    if text[:1] == "`":
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: str  # =, !=, =~, !~
    value: str
    value_start: int  # offset of the value's first character (inside the quotes)


@dataclass(slots=True)
class Selector:
    """A series selector: `name{matchers}[range]`, or `{__name__="name", ...}`."""

    name: str | None
    start: int  # offset of the name (of `{` when it has none)
    matchers: tuple[Matcher, ...] = ()
    templated: bool = False  # its name is built with a template variable: not judged
    has_range: bool = False

    def names(self) -> Iterator[tuple[str, int]]:
        """Each metric name the selector fixes, with its offset: the name, and any `__name__="..."`."""
        if self.name is not None:
            yield self.name, self.start
        for m in self.matchers:
            if m.label == "__name__" and m.op == "=":
                yield m.value, m.value_start


@dataclass(slots=True)
class Scalar:
    value: float
    text: str
    start: int


@dataclass(slots=True)
class Operator:
    text: str  # lower-cased for keywords (and, or, unless, bool)
    start: int


@dataclass(slots=True)
class Call:
    """A function or aggregation call, or plain parentheses (func None), with what it directly contains."""

    func: str | None
    start: int
    children: list[Node] = field(default_factory=list)
    grouping: tuple[str, tuple[str, ...]] | None = None  # ("by" | "without", labels) of an aggregation

    @property
    def func_lower(self) -> str | None:
        return self.func.lower() if self.func is not None else None


Node = Call | Selector | Scalar | Operator


class _Reader:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = tokenize(expr)
        self.i = 0

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def is_punct(self, text: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok is not None and tok.kind == "punct" and tok.text == text

    def skip_brackets(self) -> None:
        """From `[`: past the matching `]` (a range, a subquery, or Grafana's `[$__rate_interval]`)."""
        depth = 0
        while (tok := self.peek()) is not None:
            self.i += 1
            if tok.kind == "punct" and tok.text == "[":
                depth += 1
            elif tok.kind == "punct" and tok.text == "]":
                depth -= 1
                if depth <= 0:
                    return

    def label_list(self) -> tuple[str, ...]:
        """From `(`: the names up to `)`, consumed."""
        labels: list[str] = []
        self.i += 1
        while (tok := self.peek()) is not None:
            self.i += 1
            if tok.kind == "punct" and tok.text == ")":
                break
            if tok.kind == "ident":
                labels.append(tok.text)
            elif tok.kind == "string":
                labels.append(unquote(tok.text))
        return tuple(labels)

    def matchers(self) -> tuple[tuple[Matcher, ...], tuple[str, int] | None]:
        """From `{`: the label matchers up to `}`, consumed; and a quoted metric name (`{"a:b"}`), if any."""
        found: list[Matcher] = []
        quoted_name: tuple[str, int] | None = None
        self.i += 1
        while (tok := self.peek()) is not None:
            if tok.kind == "punct" and tok.text == "}":
                self.i += 1
                break
            op, value = self.peek(1), self.peek(2)
            if (
                tok.kind in ("ident", "string")
                and op is not None
                and op.kind == "op"
                and op.text in _MATCH_OPS
            ):
                label = tok.text if tok.kind == "ident" else unquote(tok.text)
                if value is not None and value.kind == "string":
                    found.append(Matcher(label, op.text, unquote(value.text), value.start + 1))
                    self.i += 3
                else:
                    self.i += 2
                continue
            if tok.kind == "string":
                quoted_name = (unquote(tok.text), tok.start + 1)
            self.i += 1
        return tuple(found), quoted_name

    def selector(self, tok: Token | None) -> Selector:
        """At a metric name (tok) or at `{` (tok None): the selector, consumed with its range and modifiers."""
        if tok is not None:
            sel = Selector(name=tok.text, start=tok.start, templated=tok.templated)
            self.i += 1
        else:
            start = self.peek()
            sel = Selector(name=None, start=start.start if start else len(self.expr))
        if self.is_punct("{"):
            sel.matchers, quoted = self.matchers()
            if sel.name is None and quoted is not None:
                sel.name, sel.start = quoted
        if self.is_punct("["):
            sel.has_range = True
            self.skip_brackets()
        return sel

    def call(self, func: str | None, start: int, grouping: tuple[str, tuple[str, ...]] | None) -> Call:
        """At `(`: the call's contents up to the matching `)`, consumed."""
        node = Call(func=func, start=start, grouping=grouping)
        self.i += 1
        node.children = self.sequence(closer=")")
        if self.is_punct(")"):
            self.i += 1
        return node

    def sequence(self, closer: str | None) -> list[Node]:
        nodes: list[Node] = []
        while (tok := self.peek()) is not None:
            if tok.kind == "punct" and tok.text == closer:
                return nodes
            self.step(tok, nodes)
        return nodes

    def step(self, tok: Token, nodes: list[Node]) -> None:
        """Read one element at `tok` into `nodes`."""
        if tok.kind == "ident":
            self.word(tok, nodes)
        elif tok.kind == "punct" and tok.text == "(":
            nodes.append(self.call(None, tok.start, None))
        elif tok.kind == "punct" and tok.text == "{":
            nodes.append(self.selector(None))
        elif tok.kind == "punct" and tok.text == "[":
            self.skip_brackets()  # a subquery's range after a parenthesised expression
        elif tok.kind == "number":
            nodes.append(Scalar(_number(tok.text), tok.text, tok.start))
            self.i += 1
        elif tok.kind == "op":
            nodes.append(Operator(tok.text, tok.start))
            self.i += 1
        else:  # strings, durations, variables, commas, `@`, stray closers
            self.i += 1

    def word(self, tok: Token, nodes: list[Node]) -> None:
        low = tok.text.lower()
        if low in _GROUPING | _MATCHING and self.is_punct("(", 1):
            self.i += 1
            labels = self.label_list()
            last = nodes[-1] if nodes else None
            # `sum(...) by (le)`: the grouping written after the aggregation's body.
            if low in _GROUPING and isinstance(last, Call) and last.func_lower in AGGREGATORS:
                last.grouping = (low, labels)
            return
        if low == "offset":
            self.i += 1
            if (nxt := self.peek()) is not None and nxt.kind == "op" and nxt.text == "-":
                self.i += 1
            if (nxt := self.peek()) is not None and nxt.kind in ("duration", "number", "var"):
                self.i += 1
            return
        if low in _BINARY_WORDS and not self.is_punct("(", 1):
            nodes.append(Operator(low, tok.start))
            self.i += 1
            return
        if low in AGGREGATORS and (nxt := self.peek(1)) is not None and nxt.text.lower() in _GROUPING:
            # `sum by (le) (...)`: the grouping written before the body.
            self.i += 2
            labels = self.label_list() if self.is_punct("(") else ()
            if self.is_punct("("):
                nodes.append(self.call(tok.text, tok.start, (nxt.text.lower(), labels)))
            return
        if self.is_punct("(", 1):
            self.i += 1
            nodes.append(self.call(tok.text, tok.start, None))
            return
        if low in ("inf", "nan"):
            nodes.append(Scalar(_number(tok.text), tok.text, tok.start))
            self.i += 1
            return
        nodes.append(self.selector(tok))


def _number(text: str) -> float:
    try:
        return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
    except ValueError:
        return float("nan")


def parse(expr: str) -> list[Node]:
    """The expression's top-level elements; never raises on malformed input."""
    reader = _Reader(expr)
    nodes: list[Node] = []
    while reader.peek() is not None:
        nodes.extend(reader.sequence(closer=None))
        if reader.peek() is not None:  # a stray closer at the top level
            reader.i += 1
    return nodes


def walk(nodes: list[Node], ancestors: tuple[Call, ...] = ()) -> Iterator[tuple[Node, tuple[Call, ...]]]:
    """Every node with the calls enclosing it, outermost first."""
    for node in nodes:
        yield node, ancestors
        if isinstance(node, Call):
            yield from walk(node.children, (*ancestors, node))


def selectors(expr: str) -> list[tuple[Selector, tuple[Call, ...]]]:
    """Every series selector of an expression with the calls enclosing it, outermost first."""
    return [(node, anc) for node, anc in walk(parse(expr)) if isinstance(node, Selector)]


def metric_names(expr: str) -> list[tuple[str, int]]:
    """Every metric name an expression selects (identifier or `__name__="..."`), with its offset."""
    return [pair for sel, _ in selectors(expr) if not sel.templated for pair in sel.names()]
