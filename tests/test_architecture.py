"""The house (ARCHITECTURE.md): layers that import only downward, no import circles, no UI in the
engine, no sys.path edits. Imports are read from the source (module level and inside functions)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Layer of each fer_core subpackage; the ground floor is the package's own top-level modules.
LAYERS = {"ground": 0, "data": 1, "models": 2, "training": 3, "analysis": 4, "figures": 5, "pipeline": 6,
          "commands": 7}
GROUND = {"constants", "config", "errors", "store", "validate", "cli", "stages"}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> int:
    """Layer of a fer_core module: ground floor, a layer folder, or a command (fer_core.<verb>,
    any __main__)."""
    parts = module.split(".")
    if parts[-1] == "__main__":
        return LAYERS["commands"]
    if len(parts) == 1 or (len(parts) == 2 and parts[1] in GROUND):
        return LAYERS["ground"]
    if parts[1] in LAYERS:
        return LAYERS[parts[1]]
    return LAYERS["commands"]  # fer_core/<verb>.py: a one-line command entry point


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every fer_core / dashboard module `path` imports, anywhere in the file."""
    mod = module_name(path, root)
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[:len(pkg.split(".")) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}  # `from pkg import module`
    return {m for m in out if m.split(".")[0] in ("fer_core", "dashboard", "streamlit")}


def engine_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = {module_name(f, root): f for f in (root / "fer_core").rglob("*.py")}
    return {m: {i for i in imports(f, root) if i in files and i != m} for m, f in files.items()}


def upward_imports(graph) -> list[str]:
    return [f"{m} ({layer(m)}) imports {i} ({layer(i)})" for m, deps in graph.items() for i in deps
            if layer(i) > layer(m)]


def circles(graph) -> list[list[str]]:
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = "open"
        for d in sorted(graph[m]):
            if d.startswith(m + ".") or m.startswith(d + "."):
                continue  # a package and its own modules
            if state.get(d) == "open":
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return cycles


def test_engine_layers_import_only_downward():
    assert upward_imports(engine_graph()) == []


def test_no_import_circles():
    assert circles(engine_graph()) == []


def test_the_checks_find_a_planted_upward_import_and_circle(tmp_path):
    pkg = tmp_path / "fer_core"
    for d in ("data", "analysis", "figures"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "store.py").write_text("import numpy\n")
    (pkg / "data" / "reader.py").write_text("def f():\n    from fer_core.analysis.embed import x\n")
    (pkg / "analysis" / "embed.py").write_text("from fer_core.store import Store\nfrom ..figures import a\n")
    (pkg / "figures" / "a.py").write_text("from fer_core.figures import b\n")
    (pkg / "figures" / "b.py").write_text("from . import a\n")
    graph = engine_graph(tmp_path)
    found = upward_imports(graph)
    assert "fer_core.analysis.embed (4) imports fer_core.figures.a (5)" in found
    assert "fer_core.data.reader (1) imports fer_core.analysis.embed (4)" in found
    assert not any(i.startswith("fer_core.analysis.embed (4) imports fer_core.store") for i in found)
    assert [sorted(set(c)) for c in circles(graph)] == [["fer_core.figures.a", "fer_core.figures.b"]]
    assert layer("fer_core.train") == LAYERS["commands"] and layer("fer_core.store") == 0


def test_no_fer_core_module_imports_streamlit_or_the_dashboard():
    offenders = [f"{m}: {i}" for m, f in {module_name(f): f for f in (ROOT / "fer_core").rglob("*.py")}.items()
                 for i in imports(f) if i.split(".")[0] in ("streamlit", "dashboard")]
    assert offenders == []


def test_no_sys_path_edits():
    hits = [f"{f.relative_to(ROOT)}:{n}" for d in ("fer_core", "dashboard", "pages") for f in (ROOT / d).rglob("*.py")
            for n, line in enumerate(f.read_text().splitlines(), 1) if "sys.path" in line]
    assert hits == []
