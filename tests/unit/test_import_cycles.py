"""No module of app/ imports a module that imports it back (function-local imports count too)."""

from __future__ import annotations

import ast
from pathlib import Path

from config import ROOT

APP = ROOT / "app"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in APP.rglob("*.py"):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def _edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        tree = ast.parse(f.read_text(encoding="utf-8"))
        base = m if f.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [resolve(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                b = base
                for _ in range(max(node.level - 1, 0)):
                    b = b.rpartition(".")[0]
                mod = (f"{b}.{node.module}" if node.module else b) if node.level else (node.module or "")
                for a in node.names:
                    r = resolve(f"{mod}.{a.name}")
                    targets.append(r if r and r.startswith(mod + ".") else resolve(mod))
            edges[m] |= {t for t in targets if t and t != m and t.split(".")[0] == "app"}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in edges:
        if v not in index:
            strong(v)
    return found


def test_no_import_cycles_in_app():
    assert _cycles(_edges(_modules())) == []


def test_the_check_finds_a_cycle():
    assert _cycles({"app.a": {"app.b"}, "app.b": {"app.a"}, "app.c": set()}) == [["app.a", "app.b"]]
