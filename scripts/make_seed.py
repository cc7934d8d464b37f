"""Build the seed: the bundled sample's artifacts for the shipped default model, shipped in
fer_core/data/sample/artifacts/ so that a fresh install opens every page without computing.

    python scripts/make_seed.py

Run it after changing the shipped models, a stage's code version or config, or the sample:
tests/test_seed.py fails while the seed is stale. It runs `python -m fer_core.prepare` on the
sample into a temporary cache (seed off) and copies every stage's artifacts but the parsed
dataset and the eigenfaces (under a second to compute, and the largest) into the seed folder.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from fer_core.store import SEED_DIR  # noqa: E402

#: stages left out of the seed: quick to compute on the sample and large
SKIP = ("dataset", "eigenfaces")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FER_CACHE_DIR": tmp, "FER_SEED_CACHE": "0", "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, "-m", "fer_core.prepare"], check=True, env=env, cwd=ROOT)
        if SEED_DIR.exists():
            shutil.rmtree(SEED_DIR)
        for stage in sorted(Path(tmp).iterdir()):
            if stage.is_dir() and stage.name not in SKIP:
                shutil.copytree(stage, SEED_DIR / stage.name, ignore=shutil.ignore_patterns(".*"))
    size = sum(f.stat().st_size for f in SEED_DIR.rglob("*") if f.is_file())
    print(f"seed: {SEED_DIR.relative_to(ROOT)}, {size / 1e6:.2f} MB in "
          f"{sum(1 for _ in SEED_DIR.glob('*/*'))} artifacts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
