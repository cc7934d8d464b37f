"""Find similar: nearest faces in a model's feature space (fer_core.analysis.similar), and the
clickable face grid chart that shows them."""
import json

import numpy as np
import pytest

from fer_core.analysis.similar import nearest
from fer_core.data.images import png_data_uri
from fer_core.figures.face import FACE_PICK, face_grid_chart


def _features(seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(200, 16)).astype(np.float32)
    f[17] = f[3] * 2.5  # the same direction as 3: cosine 1
    f[90] = f[3] + 0.05 * rng.normal(size=16)  # nearly
    f[150] = -f[3]  # the opposite
    return f


def test_nearest_finds_the_planted_neighbours_by_cosine():
    f = _features()
    idx, sims = nearest(f, f[3], k=3, exclude=3)
    assert idx[:2].tolist() == [17, 90] and sims[0] == pytest.approx(1.0, abs=1e-5)
    assert (np.diff(sims) <= 0).all() and 3 not in idx and 150 not in idx
    # searching only some rows
    idx, _ = nearest(f, f[3], k=2, among=np.arange(50, 200))
    assert idx[0] == 90 and set(idx) <= set(range(50, 200))
    # k larger than the candidates: all of them, ordered
    idx, sims = nearest(f[:5], f[0], k=10, exclude=0)
    assert sorted(idx.tolist()) == [1, 2, 3, 4] and (np.diff(sims) <= 0).all()


def test_nearest_rejects_bad_input():
    f = _features()
    with pytest.raises(ValueError, match="query has 8 features, the images have 16"):
        nearest(f, np.zeros(8))
    with pytest.raises(ValueError, match="k must be >= 1"):
        nearest(f, f[0], k=0)
    bad = f.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        nearest(bad, f[0])


def test_face_grid_chart_is_a_click_selection_over_the_ids():
    imgs = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    uris = [png_data_uri(im, scale=2) for im in imgs]
    assert uris[0].startswith("data:image/png;base64,")
    spec = face_grid_chart(uris, [10, 11, 12, 13, 14], list("abcde"), cols=3, selected=12).to_dict()
    text = json.dumps(spec)
    params = spec["params"]
    assert [p["name"] for p in params] == [FACE_PICK] and params[0]["select"]["fields"] == ["id"]
    rows = next(iter(spec["datasets"].values()))
    assert [r["id"] for r in rows] == [10, 11, 12, 13, 14] and [r["frame"] for r in rows] == [0, 0, 2.5, 0, 0]
    assert [(r["col"], r["row"]) for r in rows] == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1)]
    assert "bandwidth('x')" in text  # faces scale with the width the page gives the chart
