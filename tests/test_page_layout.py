"""The split UI (issue 16): shared code in small dashboard/ui modules, a page's own panels beside
it in dashboard/panels, small pages, and one cached-loader convention (no `_ds, data_hash` pairs,
no page-local caches of artifacts). Read from the source; nothing is run."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UI_BUDGET, PANEL_BUDGET, PAGE_BUDGET = 250, 250, 150


def _lines(folder):
    return {str(f.relative_to(ROOT)): len(f.read_text().splitlines()) for f in sorted((ROOT / folder).glob("*.py"))}


def over_budget(sizes: dict, budget: int) -> list[str]:
    return [f"{f}: {n} lines (budget {budget})" for f, n in sizes.items() if n > budget]


def hand_threaded_hashes(path: Path, root: Path = ROOT) -> list[str]:
    """Functions of `path` that take a Dataset as `_ds` (unhashed) beside its hash, the convention
    `hash_funcs` replaces."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = [a.arg for a in node.args.args + node.args.kwonlyargs]
            if "_ds" in names or "data_hash" in names:
                out.append(f"{path.relative_to(root)}:{node.lineno} {node.name}({', '.join(names)})")
    return out


def test_ui_modules_panels_and_pages_stay_within_their_budgets():
    assert over_budget(_lines("dashboard/ui"), UI_BUDGET) == []
    assert over_budget(_lines("dashboard/panels"), PANEL_BUDGET) == []
    assert over_budget(_lines("pages"), PAGE_BUDGET) == []
    assert len(_lines("dashboard/ui")) >= 4  # a package of modules, not one file


def test_one_loader_convention():
    files = [*(ROOT / "dashboard").rglob("*.py"), *(ROOT / "pages").glob("*.py")]
    assert [h for f in files for h in hand_threaded_hashes(f)] == []
    # pages cache nothing large themselves: artifacts come from ui.artifact (st.cache_resource, shared)
    assert [f.name for f in (ROOT / "pages").glob("*.py") if re.search(r"st\.cache_(data|resource)", f.read_text())] == []


def test_the_checks_find_planted_offenders(tmp_path):
    f = tmp_path / "page.py"
    f.write_text("import streamlit as st\n\n\n@st.cache_data\ndef load(_ds, data_hash: str):\n    return 1\n")
    assert hand_threaded_hashes(f, tmp_path) == ["page.py:5 load(_ds, data_hash)"]
    assert over_budget({"pages/a.py": 151, "pages/b.py": 150}, PAGE_BUDGET) == ["pages/a.py: 151 lines (budget 150)"]
