"""The engine stays free of UI code (CONVENTIONS.md, rule 1)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_fer_core_module_imports_streamlit():
    offenders = []
    for f in (ROOT / "fer_core").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{f.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "streamlit"]
    assert offenders == []
