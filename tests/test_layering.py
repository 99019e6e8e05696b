"""The floors of the architecture, read from the source (docs: ../shared DESIGN "Layout").

- ``envs`` imports neither ``agents`` nor ``sim``, not even lazily or through a string entry point;
- ``agents`` imports ``sim`` only for the language-model layer (``sim.llm``);
- ``sim`` names no env family: it imports only ``envs.core`` and holds no env id in its code
  (family-specific things come from each env's `EnvSpec`; bench presets are data files);
- module-level imports form no circle (a lazy import inside a function is how a module names a
  layer it needs only at run time; it is allowed within the floors).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agents", "sim")
ENTRY_POINT = re.compile(r"^(agents|sim)(\.\w+)+(:\w+)?$")


def modules() -> dict[str, Path]:
    """Every module of the three packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(tree: ast.AST, name: str, is_package: bool, top_level: bool) -> list[str]:
    """The modules a module imports (all of them, or only its module-level statements)."""
    nodes = tree.body if top_level else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            out += [target] + [f"{target}.{alias.name}" for alias in node.names]
    return out


def resolve(target: str, known: dict[str, Path]) -> str | None:
    """The project module an import names (``from a.b import c`` may name module a.b.c)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def test_envs_never_names_the_layers_above():
    known = modules()
    problems = []
    for name, path in known.items():
        if not name.startswith("envs"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in imported(tree, name, path.name == "__init__.py", top_level=False):
            if target.split(".")[0] in ("agents", "sim"):
                problems.append(f"{name} imports {target}")
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and ENTRY_POINT.match(text):
                problems.append(f"{name} names {text!r}")
    assert not problems, problems


def test_agents_use_sim_only_for_language_models():
    known = modules()
    problems = []
    for name, path in known.items():
        if not name.startswith("agents"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in imported(tree, name, path.name == "__init__.py", top_level=False):
            if target.split(".")[0] == "sim" and not target.startswith("sim.llm"):
                problems.append(f"{name} imports {target}")
    assert not problems, problems


ENV_ID = re.compile(r"mercato/[A-Z]\w*-v\d")


def test_sim_names_no_env_family():
    known = modules()
    problems = []
    for name, path in known.items():
        if not name.startswith("sim"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in imported(tree, name, path.name == "__init__.py", top_level=False):
            if target.startswith("envs.") and not target.startswith("envs.core"):
                problems.append(f"{name} imports {target}")
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and id(node) not in docstrings and ENV_ID.search(text):
                problems.append(f"{name} names {ENV_ID.search(text).group()!r}")
    assert not problems, problems


def test_module_level_imports_form_no_circle():
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = imported(tree, name, path.name == "__init__.py", top_level=True)
        resolved = {resolve(t, known) for t in targets}
        graph[name] = {t for t in resolved if t and t != name}
    cycles = [sorted(c) for c in strongly_connected(graph) if len(c) > 1]
    assert not cycles, cycles


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components
