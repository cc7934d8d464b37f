"""Embeddings map for more points than a browser can take: figure build time and JSON size at
1,000,000 synthetic 2-D points, every point drawn (what the page does up to MAX_DRAWN_POINTS) vs
a stratified sample of MAX_DRAWN_POINTS over a density image of all points; and the time to
resolve a box / lasso selection against every point on the server.

    OMP_NUM_THREADS=1 python bench/bench_embed_large.py [N]
"""
import sys
import time

import numpy as np

from common import header  # noqa: E402
from fer_core.figures import embeddings as figures  # noqa: E402
from fer_core.constants import FER2013_EMOTIONS  # noqa: E402
from fer_core.data.dataset import Dataset  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
rng = np.random.default_rng(0)
p = np.array([0.13, 0.01, 0.06, 0.35, 0.12, 0.05, 0.25, 0.03])  # 7 classes + unlabeled (-1), a rare one
labels = rng.choice(np.arange(-1, 7), n, p=p / p.sum())
centres = rng.normal(0, 8, (8, 2))
coords = (centres[labels + 1] + rng.normal(0, 2, (n, 2))).astype(np.float32)
probs = rng.dirichlet(np.ones(7), n).astype(np.float32)
ds = Dataset(images=np.zeros((n, 1, 1), np.uint8), labels=labels, split=np.array(["Training"] * n),
             row=np.arange(n), source="synthetic", data_hash="synthetic")
colors = figures.point_colors(ds, "label")


def timed_once(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def report(name, build):
    fig, t_build = timed_once(build)
    js, t_json = timed_once(fig.to_json)
    pts = sum(len(t.x) for t in fig.data if t.type == "scattergl")
    print(f"{name:>5}: build {t_build:6.2f} s (incl. hover and sampling), to_json {t_json:5.2f} s, "
          f"JSON {len(js) / 1e6:6.2f} MB, {pts:,} scatter points, traces {[t.type for t in fig.data][:2]}...")


header("embeddings map at scale")
print(f"n = {n:,} points, 2-D, coloured by label, MAX_DRAWN_POINTS = {figures.MAX_DRAWN_POINTS:,}")
report("all", lambda: figures.embedding_figure(coords, np.arange(n), colors,
                                           hover=figures.hover_texts(ds, probs, FER2013_EMOTIONS)))


def new():
    s = figures.display_sample(ds.labels, figures.MAX_DRAWN_POINTS)
    s = None if len(s) == n else s
    return figures.embedding_figure(coords, np.arange(n), colors, sample=s,
                                    hover=figures.hover_texts(ds, probs, FER2013_EMOTIONS, rows=s))


report("sample", new)
sel = {"points": [], "box": [], "lasso": [{"x": [-10, 10, 10, -10, -5], "y": [-10, -10, 10, 10, 0]}]}
rows, t = timed_once(lambda: figures.selection_rows(sel, coords))
print(f"lasso (5 vertices) resolved against all {n:,} points: {len(rows):,} rows in {t * 1000:.0f} ms")
sel = {"points": [], "box": [{"x": [-10, 10], "y": [-10, 10]}], "lasso": []}
rows, t = timed_once(lambda: figures.selection_rows(sel, coords))
print(f"box resolved against all {n:,} points: {len(rows):,} rows in {t * 1000:.0f} ms")
a = np.linspace(0, 2 * np.pi, 400, endpoint=False)
sel = {"points": [], "box": [], "lasso": [{"x": (6 * np.cos(a)).tolist(), "y": (6 * np.sin(a)).tolist()}]}
rows, t = timed_once(lambda: figures.selection_rows(sel, coords))
print(f"lasso (400-vertex circle, warm) resolved against all {n:,} points: {len(rows):,} rows in {t * 1000:.0f} ms")
