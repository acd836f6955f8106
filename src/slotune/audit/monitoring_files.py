"""The PromQL expressions of Prometheus rule files and Grafana dashboards, each with where it sits (file, line,
path inside the document), so a finding can point at the line to change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slotune.errors import InputError


@dataclass(frozen=True, slots=True)
class PromqlExpr:
    expr: str
    file: str
    pointer: str  # groups[0].rules[2].expr, panels[3].targets[0].expr
    line: int | None
    name: str = ""  # the alert, recording rule or panel title


@dataclass(frozen=True, slots=True)
class RuleFile:
    path: str
    expressions: tuple[PromqlExpr, ...]
    recorded: frozenset[str]  # names of recording rules (their own series, not vLLM's)


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping it builds (by object id)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[int, int] = {}


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    data: dict[Any, Any] = {}
    loader.lines[id(data)] = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _mapping_with_line)


def _text(path: Path, option: str, fix: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(option, str(path), fix, problem="not UTF-8 text") from exc


def load_yaml_documents(path: Path, option: str) -> tuple[list[Any], dict[int, int]]:
    """Every YAML document of a file, and the line of each mapping in them (id -> 1-based line)."""
    if not path.is_file():
        raise InputError(option, str(path), f"give the path of an existing YAML file to {option}")
    loader = _LineLoader(_text(path, option, f"give {option} a YAML file"))
    documents: list[Any] = []
    try:
        while loader.check_data():
            document = loader.get_data()
            if document is not None:
                documents.append(document)
    except yaml.YAMLError as exc:
        raise InputError(option, str(path), f"fix the YAML given to {option}", problem=str(exc)) from exc
    finally:
        loader.dispose()
    return documents, loader.lines


def _groups(document: Any) -> list[Any]:
    """`groups` of a rule file, or of a PrometheusRule object's spec."""
    if isinstance(document, dict):
        if isinstance(document.get("groups"), list):
            return document["groups"]
        spec = document.get("spec")
        if isinstance(spec, dict) and isinstance(spec.get("groups"), list):
            return spec["groups"]
    return []


def read_rule_file(path: Path) -> RuleFile:
    documents, lines = load_yaml_documents(path, "--prometheus-rules")
    found: list[PromqlExpr] = []
    recorded: set[str] = set()
    for document in documents:
        prefix = "" if isinstance(document, dict) and "groups" in document else "spec."
        for g, group in enumerate(_groups(document)):
            rules = group.get("rules") if isinstance(group, dict) else None
            for r, rule in enumerate(rules if isinstance(rules, list) else []):
                if not isinstance(rule, dict) or not isinstance(rule.get("expr"), str | int | float):
                    continue
                name = str(rule.get("alert") or rule.get("record") or "")
                if rule.get("record"):
                    recorded.add(str(rule["record"]))
                found.append(
                    PromqlExpr(
                        expr=str(rule["expr"]),
                        file=str(path),
                        pointer=f"{prefix}groups[{g}].rules[{r}].expr",
                        line=lines.get(id(rule)),
                        name=name,
                    )
                )
    if not found:
        raise InputError(
            "--prometheus-rules",
            str(path),
            "give a Prometheus rule file (groups: [{rules: [{expr: ...}]}])",
            problem="no rule expressions found",
        )
    return RuleFile(str(path), tuple(found), frozenset(recorded))


def _panels(panels: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, panel in enumerate(panels if isinstance(panels, list) else []):
        if not isinstance(panel, dict):
            continue
        here = f"{pointer}[{i}]"
        yield here, panel
        yield from _panels(panel.get("panels"), here + ".panels")  # panels inside a collapsed row


def _line_of(text: str, expr: str) -> int | None:
    """The line where the expression's JSON string first appears in the file."""
    index = text.find(json.dumps(expr)[1:-1])
    return None if index < 0 else text.count("\n", 0, index) + 1


def read_dashboard(path: Path) -> tuple[PromqlExpr, ...]:
    if not path.is_file():
        raise InputError("--grafana", str(path), "give the path of a Grafana dashboard JSON file")
    text = _text(path, "--grafana", "give a Grafana dashboard JSON file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            "--grafana", str(path), "give a Grafana dashboard JSON file", problem=str(exc)
        ) from exc
    root = "dashboard." if isinstance(data, dict) and isinstance(data.get("dashboard"), dict) else ""
    dashboard = data.get("dashboard", data) if isinstance(data, dict) else {}
    found: list[PromqlExpr] = []
    for pointer, panel in _panels(dashboard.get("panels"), root + "panels"):
        for t, target in enumerate(panel.get("targets") or []):
            if isinstance(target, dict) and isinstance(target.get("expr"), str) and target["expr"].strip():
                found.append(
                    PromqlExpr(
                        expr=target["expr"],
                        file=str(path),
                        pointer=f"{pointer}.targets[{t}].expr",
                        line=_line_of(text, target["expr"]),
                        name=str(panel.get("title") or ""),
                    )
                )
    if not found:
        raise InputError(
            "--grafana",
            str(path),
            "give a Grafana dashboard JSON (panels with Prometheus targets)",
            problem="no PromQL targets found",
        )
    return tuple(found)
