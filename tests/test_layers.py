"""The package's architecture, read from its import statements: layers util < core < dmelodies <
evaluation < sent (the public API) < tools, each module importing only from its own layer or lower
ones, no import circles, every `sent` import at module level (where a circle could not hide),
and no function longer than 60 lines."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "sent"
LAYERS = ("util", "core", "dmelodies", "evaluation", "", "tools")  # "" is sent/__init__.py, the public API


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1] if len(parts) > 1 and parts[1] in LAYERS else "")


def imported_modules(node: ast.AST) -> list[str]:
    """The sent modules an import statement loads (`from sent.x import y` loads sent.x.y when y is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "sent"]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "sent":
        return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names]
    return []


def graph() -> dict[str, set[str]]:
    return {m: {i for n in ast.parse(p.read_text()).body for i in imported_modules(n)} for m, p in MODULES.items()}


def test_the_graph_sees_the_known_edges():
    edges = graph()
    assert "sent.core.plugin" in edges["sent.core.repository"]
    assert "sent.dmelodies.data" in edges["sent.dmelodies.plugin"]  # `from sent.dmelodies import data`
    assert len(MODULES) > 40


def test_no_sent_import_inside_a_function():
    found = []
    for name, path in MODULES.items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [f"{name}:{n.lineno}" for n in ast.walk(fn) if imported_modules(n)]
    assert found == []


def test_each_module_imports_only_its_own_layer_or_lower_ones():
    upward = [f"{m} -> {i}" for m, imports in graph().items() for i in imports if layer(i) > layer(m)]
    assert upward == []


def test_there_are_no_import_circles():
    edges, state, circles = graph(), {}, []

    def visit(module, path):
        state[module] = "open"
        for nxt in sorted(edges.get(module, ())):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


@pytest.mark.parametrize("bad, message", [
    ("import sent.dmelodies.data\n", "sent.core.x -> sent.dmelodies.data"),
])
def test_an_upward_import_would_be_found(bad, message):
    node = ast.parse(bad).body[0]
    assert [f"sent.core.x -> {i}" for i in imported_modules(node) if layer(i) > layer("sent.core.x")] == [message]


def test_no_function_is_longer_than_60_lines():
    long = []
    for name, path in MODULES.items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.end_lineno - fn.lineno + 1 > 60:
                long.append(f"{name}.{fn.name}: {fn.end_lineno - fn.lineno + 1} lines")
    assert long == []


def test_the_public_api_is_domain_free():
    """What `from sent import ...` offers a script or plug-in comes from util and core alone."""
    import sent

    homes = {name: getattr(sent, name).__module__ for name in sent.__all__}
    assert {"Plugin", "Repository", "train_sent", "train_zc", "verified_codes", "scores"} <= set(homes)
    assert all(m.startswith(("sent.core.", "sent.util.")) for m in homes.values()), homes
