"""The attention stage (fer_core.analysis.attention): every image's saliency map summed over a 6x6
grid, its share on the frame's border, the Saliency page's panel that ranks faces by it, and the All
images column to sort by."""
from pathlib import Path

import numpy as np
import pytest

from fer_core import stages
from fer_core.analysis import attention
from fer_core.analysis.attention import (
    ATTENTION,
    border_share,
    class_means,
    get_attention,
    grid_map,
    saliency_summary,
)
from fer_core.data.dataset import load_dataset
from fer_core.models.checkpoint import shipped_checkpoints
from fer_core.store import Store

ROOT = Path(__file__).resolve().parent.parent
needs_model = pytest.mark.skipif("compact" not in shipped_checkpoints(), reason="needs the shipped compact model")


def test_summary_and_border_share_of_planted_maps():
    maps = np.zeros((3, 48, 48), np.float32)
    maps[0, 40:, :8] = 1.0  # bottom-left cell only: all on the border
    maps[1, 16:32, 16:32] = 2.0  # the four central cells: nothing on the border
    s = saliency_summary(maps)  # maps[2]: no importance at all
    assert s.shape == (3, 36) and s[0, 30] == 1.0 and s[0].sum() == 1.0
    np.testing.assert_allclose(s[1, [14, 15, 20, 21]], 0.25)
    assert (s[2] == 0).all()
    np.testing.assert_allclose(border_share(s), [1.0, 0.0, 0.0])
    assert attention.border_mask().sum() == 20
    np.testing.assert_allclose(saliency_summary(grid_map(s[1])[None])[0], s[1])  # a grid map sums back
    with pytest.raises(ValueError, match="multiples of 6"):
        saliency_summary(np.zeros((1, 50, 50)))
    with pytest.raises(ValueError, match="G >= 3"):
        border_share(np.zeros((2, 4)))


def test_class_means_and_a_class_never_predicted():
    s = np.eye(4, dtype=np.float32)[[0, 1, 1, 3]]
    means, counts = class_means(s, np.array([0, 1, 1, 0]), 3)
    assert counts.tolist() == [2, 2, 0]
    np.testing.assert_allclose(means[0], [0.5, 0, 0, 0.5])
    np.testing.assert_allclose(means[1], [0, 1, 0, 0])
    assert (means[2] == 0).all()


@needs_model
def test_the_stage_is_each_images_gradcam_summed_and_is_cached(tmp_path, monkeypatch):
    from fer_core.analysis.attribute import attribute
    from fer_core.models.checkpoint import load_checkpoint
    from fer_core.models.inference import for_inference
    ds = load_dataset(use_cache=False).subset(np.arange(0, 1000, 25))  # 40 faces
    store = Store(tmp_path, seed=None)
    seen = []
    out = get_attention(ds, "compact", store=store, progress=lambda f, t: seen.append(f))
    ref = saliency_summary(attribute(for_inference(load_checkpoint("compact")[0]), ds.images, method="gradcam"))
    np.testing.assert_allclose(out["summary"], ref, atol=1e-5)
    assert out["summary"].shape == (40, 36) and np.allclose(out["summary"].sum(1), 1, atol=1e-5)
    assert seen and seen[-1] == 1.0
    monkeypatch.setattr(attention, "attribute", lambda *a, **k: pytest.fail("recomputed: not cached"))
    np.testing.assert_array_equal(get_attention(ds, "compact", store=store)["summary"], out["summary"])


@needs_model
@pytest.mark.usefixtures("module_cache")
def test_saliency_page_ranks_a_planted_border_face_first_and_reviews_the_top():
    from streamlit.testing.v1 import AppTest
    ds = load_dataset()
    summary = np.zeros((len(ds), 36), np.float32)
    summary[:, [14, 15, 20, 21]] = 0.25  # every face: the map on the centre of the frame...
    planted = [123, 456]
    summary[planted[0]] = 0.0
    summary[planted[0], 0] = 1.0  # ...except these: all of it on the top-left corner,
    summary[planted[1]] = 0.0
    summary[planted[1], [0, 14]] = 0.6, 0.4  # and 60% of it there
    stages.put(ATTENTION, ds, {"summary": summary, "classes": np.array(["x"] * 7)}, model="compact")
    at = AppTest.from_file(str(ROOT / "pages" / "saliency.py"), default_timeout=300).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["att_border__ids"][:2] == planted
    assert any("2 images have more than half of it there" in c.value for c in at.caption)
    at.number_input(key="att_top_n").set_value(2).run()
    next(b for b in at.button if b.label == "Review the top 2").click().run()
    assert not at.exception, [e.value for e in at.exception]
    sel = at.session_state["selection"]
    assert sorted(sel.indices.tolist()) == planted and "border" in sel.source
    # All images: a "border attention" column to sort by, the planted faces first
    from fer_testutils import run_page
    table = str(ROOT / "pages" / "table.py")
    at = run_page(table)
    at.selectbox(key="tbl_sort").set_value("border attention")
    at.toggle(key="tbl_desc").set_value(True)
    df = run_page(table, at=at).dataframe[0].value
    assert df["index"].tolist()[:2] == planted and df["border attention"].tolist()[:2] == pytest.approx([1.0, 0.6])
