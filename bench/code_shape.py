"""The shape of the code base, as numbers: modules, lines, import cycles between the project's modules, and
function-local imports of the project's own modules (allowed only to defer a heavy optional dependency).

    python bench/code_shape.py [ROOT]      # ROOT: a checkout (default: this one)
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree: ast.Module, name: str, is_pkg: bool, known: set[str]) -> tuple[set[str], list[tuple[int, str]]]:
    """(modules imported at module level, [(line, module) imported inside functions]) of the `agent` package."""
    top: set[str] = set()
    local: list[tuple[int, str]] = []

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import submodule` depends on the submodule only; `from pkg import name` on pkg
            return [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        return []

    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for t in targets(node):
            if t.startswith("agent"):
                top.add(t)
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                for t in targets(node)[:1]:
                    if t.startswith("agent"):
                        local.append((node.lineno, t))
    return top, local


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    files = sorted((root / "agent").rglob("*.py"))
    mods = {module_name(root, f): f for f in files}
    graph: dict[str, set[str]] = {}
    full_graph: dict[str, set[str]] = {}  # function-local imports included: cycles they only hide
    local_imports = []
    lines = 0
    for name, f in mods.items():
        src = f.read_text(encoding="utf-8")
        lines += src.count("\n")
        top, local = imports(ast.parse(src), name, f.name == "__init__.py", set(mods))
        # a package import of a name resolves to the module when there is one, else to the package
        graph[name] = {t if t in mods else t.rsplit(".", 1)[0] for t in top} & set(mods) - {name}
        resolved_local = {t if t in mods else t.rsplit(".", 1)[0] for _, t in local} & set(mods) - {name}
        full_graph[name] = graph[name] | resolved_local
        local_imports += [(f.relative_to(root).as_posix(), line, t) for line, t in local]
    cyc = cycles(graph)
    hidden = cycles(full_graph)
    print(f"modules: {len(mods)} ({lines:,} lines) under {root / 'agent'}")
    print("largest: " + ", ".join(f"{m} {mods[m].read_text().count(chr(10))}" for m in
                                   sorted(mods, key=lambda m: -mods[m].read_text().count(chr(10)))[:5]))
    print(f"import cycles: {len(cyc)}")
    for c in cyc:
        print("   ", " <-> ".join(c))
    print(f"import cycles counting function-local imports: {len(hidden)}")
    for c in hidden:
        print("   ", " <-> ".join(c))
    print(f"function-local imports of the project's own modules: {len(local_imports)}")
    for path, line, t in local_imports:
        print(f"    {path}:{line} {t}")


if __name__ == "__main__":
    main()
