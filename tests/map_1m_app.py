"""The dashboard on the synthetic million-point map (tests/map_1m.py): serve it with
``serve_dashboard(cache, app=map_1m.APP)`` after ``map_1m.plant(cache)``.

It swaps the one data-source loader (``dashboard.ui.source._load``: every page, the sidebar and
the current selection load through it) for the synthetic dataset named in $FER_CACHE_DIR's
synthetic_map.json, then runs dashboard/Home.py as it is.
"""
import json
import runpy
from pathlib import Path

import map_1m  # streamlit puts this script's folder (tests/) on the path

from dashboard.ui import source

ROOT = Path(__file__).resolve().parents[1]

_info = json.loads((source.store().root / map_1m.INFO).read_text())
source._load = lambda *a, **k: (map_1m.synthetic_dataset(int(_info["n"]), int(_info.get("seed", 0))), None)
runpy.run_path(str(ROOT / "dashboard" / "Home.py"), run_name="__main__")
