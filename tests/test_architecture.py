"""Import arrows inside ``interp/`` point one way: no module imports itself back through others.

The graph is read from the source with :mod:`ast` (nothing is imported): an edge ``a -> b`` for
every ``import b`` / ``from b import x`` in ``a`` (or ``from pkg import b`` where ``pkg.b`` is a
module), at module level or inside a function; imports under ``if TYPE_CHECKING:`` are left out,
since they never run. Run it alone to see the circles::

    .venv/bin/python -m pytest tests/test_architecture.py -q
"""

from __future__ import annotations

import ast
from pathlib import Path

import interp

ROOT = Path(interp.__file__).parent


def _module_name(path: Path) -> str:
    parts = ("interp", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree`` that can run (those under ``if TYPE_CHECKING:`` are skipped)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: {interp modules it imports}}`` for every module under ``interp/``."""
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            for target in targets:
                while target and target not in paths:  # `import interp.x.y` of a name, not a module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(components)


def _closed_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One cycle through the component's first module (breadth-first, so the shortest)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("a strongly connected component without a cycle")  # unreachable


def test_the_graph_is_read():
    """The walker sees known arrows (so an empty result below means something)."""
    graph = import_graph()
    assert "interp.errors" in graph["interp.results"]
    assert "interp.results" in graph["interp.models.model"]
    toy = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(toy) == [["a", "b", "c"]]
    assert _closed_path(toy, {"a", "b", "c"}) == ["a", "b", "a"]


def _describe(graph: dict[str, set[str]], cycles: list[list[str]]) -> str:
    lines = []
    for component in cycles:
        lines.append(f"circle of {len(component)} modules: {', '.join(component)}")
        lines += [f"    {v} -> {w}" for v in component for w in sorted(graph[v] & set(component))]
        lines.append("    e.g. " + " -> ".join(_closed_path(graph, set(component))))
    return "\n".join(lines)


def test_no_import_cycles_in_interp():
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles in interp/:\n" + _describe(graph, cycles)


def _public_functions():
    """(where, function, is_method) for every public function of interp's public modules: module-level names in
    ``__all__`` and the public methods of classes in ``__all__`` (private modules ``_x.py`` and the CLI,
    whose parameters are typer options, are left out)."""
    for path in sorted(ROOT.rglob("*.py")):
        name = _module_name(path)
        if any(part.startswith("_") and part != "__init__" for part in path.relative_to(ROOT).with_suffix("").parts) \
                or name.startswith("interp.cli"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        exported = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                try:
                    exported = set(ast.literal_eval(node.value))
                except ValueError:  # a computed __all__ (a lazy package's): its names live in other modules
                    pass
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in exported:
                yield f"{name}.{node.name}", node, False
            elif isinstance(node, ast.ClassDef) and node.name in exported:
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and (not item.name.startswith("_") or item.name == "__init__"):
                        yield f"{name}.{node.name}.{item.name}", item, True


# interp.models.model imports interp.models.card, so card may not import Model back, not even under TYPE_CHECKING
# (farm-studio draws those imports as arrows): its functions read a Model's attributes, annotated Any.
_NOT_MODEL = {"interp.models.card.weights_fingerprint", "interp.models.card.model_card"}


def test_model_parameters_are_annotated_model_and_returns_are_annotated():
    """A ``model`` parameter is an interp Model (``Model``, ``Model | None``) or a model's name (``str``); public
    module-level functions say what they return."""
    wrong, unannotated = [], []
    for where, fn, is_method in _public_functions():
        for arg in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
            if arg.arg in ("model", "model_or_vectors"):
                annotation = ast.unparse(arg.annotation) if arg.annotation is not None else "(none)"
                if "Model" not in annotation and not annotation.startswith("str") and where not in _NOT_MODEL:
                    wrong.append(f"{where}({arg.arg}: {annotation})")
        if not is_method and fn.returns is None:
            unannotated.append(where)
    assert not wrong, "model parameters not annotated Model:\n" + "\n".join(wrong)
    assert not unannotated, "public functions without a return annotation:\n" + "\n".join(unannotated)


if __name__ == "__main__":  # python tests/test_architecture.py: print the cycles
    graph = import_graph()
    print(_describe(graph, find_cycles(graph)) or "no import cycles in interp/")
