"""Embeddings page on the bundled sample with the shipped model (AppTest)."""
from pathlib import Path

import numpy as np
import pytest

from fer_core.analysis import embed
from fer_core.figures import embeddings as emb_figs
from fer_core.models.checkpoint import shipped_checkpoints
from fer_core.data.dataset import load_dataset
from fer_core.analysis.predictions import default_model
from fer_testutils import run_page

pytest.importorskip("streamlit.testing.v1")
PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "embeddings.py")
pytestmark = [pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint"),
              pytest.mark.usefixtures("module_cache")]


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


def _run(**state):
    return run_page(PAGE, **state)


def test_page_builds_the_map_and_shows_the_engine_numbers(sample):
    at = _run()
    assert at.title[0].value == "Embeddings"
    assert not at.metric  # the class-separation expander is lazy: closed, nothing computed or sent
    assert any("Click a point" in i.value for i in at.info)
    at = _run(emb_sep_open=True)
    stats = embed.get_feature_stats(sample, default_model())
    _, agr = embed.class_separation_table(stats, sample.labels)
    shown = {m.label: m.value for m in at.metric}
    assert shown["kNN label agreement (k=10)"] == f"{float(agr['overall']):.1%}"
    assert shown["Silhouette (all classes)"] == f"{float(stats['silhouette_fer2013_overall']):.3f}"


def test_selected_row_fills_the_panel_and_neighbours_are_clickable(sample):
    at = _run(selected_row=7)
    assert any(s.value == "Image #7" for s in at.subheader)
    assert any(f"source row **{int(sample.row[7])}**" in str(m.value) for m in at.markdown)
    nb_buttons = [b for b in at.button if b.key and b.key.startswith("emb_nb_")]
    feats = embed.get_features(sample)["features"]
    assert [int(b.key.removeprefix("emb_nb_")) for b in nb_buttons] == embed.nearest_neighbors(feats, 7, k=8).tolist()
    j = int(nb_buttons[2].key.removeprefix("emb_nb_"))
    nb_buttons[2].click().run()
    assert not at.exception
    assert at.session_state["selected_row"] == j
    assert any(s.value == f"Image #{j}" for s in at.subheader)


def test_region_selection_shows_gallery_and_export(sample):
    rows = np.array([3, 50, 7, 999])
    at = _run(emb_region=rows)
    assert any(s.value == "4 selected images" for s in at.subheader)
    # the labels of the selection are counted
    labels = [emb_figs.selection_table(sample, rows)["label"].value_counts()]
    assert any(f"{labels[0].index[0]} **{labels[0].iloc[0]}**" in str(m.value) for m in at.markdown)
    clear = next(b for b in at.button if b.label == "Clear selection")
    clear.click().run()
    assert not any("selected images" in s.value for s in at.subheader)


def test_region_gallery_states_its_order_and_is_cleared_with_its_map(sample):
    """Issue 17: the gallery showed a selection in trace order; after switching the map's method
    the old selection and gallery stayed under a map with no box drawn."""
    from dashboard.panels.embeddings import map_key
    from fer_core.config import ProjectionConfig
    rows = np.flatnonzero(sample.labels >= 0)[:300]
    key = map_key(default_model(), "label", ProjectionConfig())
    at = _run(emb_region=rows, emb_region_map=key)
    assert any(s.value == "300 selected images" for s in at.subheader)
    assert any("class-stratified sample of 144 of the 300" in c.value for c in at.caption)
    next(b for b in at.button_group if b.label == "Map").set_value("PCA").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("selected images" in s.value for s in at.subheader)
    assert "emb_region" not in at.session_state
    # once the Label errors page has ranked the images, the most likely mislabeled come first
    from fer_core.analysis import label_errors as le
    res = le.get_label_errors(sample)
    at = _run(emb_region=rows, emb_region_map=key)
    assert any("The 144 of 300 selected images with the highest label-error score" in c.value for c in at.caption)
    top = rows[np.argsort(-res["score_ensemble"][rows], kind="stable")][:3]
    grid = emb_figs.selection_gallery(rows, sample.labels, scores=res["score_ensemble"])[0]
    assert grid[:3].tolist() == top.tolist()


def test_every_coloring_and_the_pca_and_3d_maps():
    from fer_core.figures.embeddings import COLOR_BY
    at = _run()
    color = next(s for s in at.selectbox if s.label == "Color by")
    assert len(color.options) == len(COLOR_BY)  # the sample has FER+ votes
    for key in COLOR_BY:
        next(s for s in at.selectbox if s.label == "Color by").set_value(key).run()
        assert not at.exception, (key, [e.value for e in at.exception])
    next(b for b in at.button_group if b.label == "Map").set_value("PCA").run()
    assert not at.exception, [e.value for e in at.exception]
    next(b for b in at.button_group if b.label == "Dimensions").set_value(3).run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_map_over_the_drawing_limit_draws_a_sample_and_regions_select_every_point(sample, monkeypatch):
    """The sample's map is small, so the limit is lowered to 300: the page must draw 300 points
    over a density image of all of them, say so, and resolve a box against every point."""
    import json
    monkeypatch.setattr(emb_figs, "MAX_DRAWN_POINTS", 300)
    at = _run()
    assert any(f"300 of {len(sample):,} points are drawn" in c.value for c in at.caption)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["type"] == "heatmap"
    scatter = [t for t in spec["data"] if t["type"] == "scattergl"]
    assert len(scatter) >= 7 and all("customdata" in t for t in scatter)
    # the callback's path: a box on the sampled map -> every row inside it, drawn or not
    from dashboard.panels import embeddings as panels
    from fer_core.config import ProjectionConfig
    cfg = ProjectionConfig()
    coords = embed.get_projection(sample, cfg, model=default_model())["coords"]
    lo, hi = np.quantile(coords, [0.2, 0.8], axis=0)
    box = {"points": [], "box": [{"xref": "x", "yref": "y", "x": [lo[0], hi[0]], "y": [lo[1], hi[1]]}], "lasso": []}
    rows = panels.selected_rows(sample, default_model(), cfg, box)
    inside = np.flatnonzero(((coords >= lo) & (coords <= hi)).all(1))
    assert rows.tolist() == inside.tolist()
    drawn = emb_figs.drawn_rows(sample.labels)  # the 300 the page drew (the limit is read at call time)
    assert len(drawn) == 300 and len(np.setdiff1d(rows, drawn)) > 0


def _region_state(sample, rows, source="box on UMAP map"):
    """Session state as a box on the default map leaves it: its gallery and the current selection."""
    from dashboard.panels.embeddings import map_key
    from fer_core.config import ProjectionConfig
    from fer_core.data.selection import Selection
    return {"emb_region": np.asarray(rows), "emb_region_map": map_key(default_model(), "label", ProjectionConfig()),
            "emb_region_source": source, "selection": Selection(np.asarray(rows), source, sample.data_hash)}


def test_clear_selection_clears_the_gallery_and_the_current_selection_it_set(sample):
    """Issue 17: the page's Clear selection emptied its gallery but left the sidebar's selection."""
    from fer_core.data.selection import Selection
    rows = np.arange(40, 70)
    at = _run(**_region_state(sample, rows))
    assert any(s.value == "30 selected images" for s in at.subheader)
    next(b for b in at.button if b.label == "Clear selection").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("selected images" in s.value for s in at.subheader)
    assert "selection" not in at.session_state and "emb_region" not in at.session_state
    # a selection chosen on another page since (a confusion cell) is not this gallery's to clear
    at = _run(**{**_region_state(sample, rows), "selection": Selection(np.arange(5), "confusion cell", sample.data_hash)})
    next(b for b in at.button if b.label == "Clear selection").click().run()
    assert not any("selected images" in s.value for s in at.subheader)
    assert at.session_state["selection"].source == "confusion cell"
    # the sidebar's Clear (the current selection gone) takes the gallery with it
    at = _run(**_region_state(sample, rows))
    del at.session_state["selection"]
    at.run()
    assert not any("selected images" in s.value for s in at.subheader)


def test_zoom_to_the_selection_draws_its_points_and_back(sample, monkeypatch):
    """A sampled map (the limit lowered to 300): Zoom to the selection frames the region and draws
    every point in it; Whole map goes back to the sample over the density."""
    import json
    monkeypatch.setattr(emb_figs, "MAX_DRAWN_POINTS", 300)
    from fer_core.config import ProjectionConfig
    coords = embed.get_projection(sample, ProjectionConfig(), model=default_model())["coords"]
    lo, hi = np.quantile(coords, [0.4, 0.6], axis=0)
    rows = np.flatnonzero(((coords >= lo) & (coords <= hi)).all(1))
    at = _run(**_region_state(sample, rows))
    next(b for b in at.button if b.label == "Zoom to the selection").click().run()
    assert not at.exception, [e.value for e in at.exception]
    view = emb_figs.selection_view(coords, rows)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["xaxis"]["range"] == list(view[0]) and spec["layout"]["yaxis"]["range"] == list(view[1])
    in_view = emb_figs.rows_in_box(coords, *view)
    drawn = sorted(r for t in spec["data"] if t["type"] == "scattergl" for r in _customdata(t))
    assert drawn == in_view.tolist() and set(rows) <= set(drawn)  # every point in view, the region's among them
    assert any(f"Zoomed in: all {len(in_view):,} points in view are drawn" in c.value for c in at.caption)
    assert not any(b.label == "Zoom to the selection" for b in at.button)  # already there
    next(b for b in at.button if b.label == "Whole map").click().run()
    assert any("300 of 1,000 points are drawn" in c.value for c in at.caption)


def _customdata(trace) -> list[int]:
    """A Plotly JSON trace's customdata (a list, or Plotly's base64 typed array) as ints."""
    import base64
    cd = trace["customdata"]
    if isinstance(cd, dict):
        return np.frombuffer(base64.b64decode(cd["bdata"]), dtype=np.dtype(cd["dtype"])).astype(int).tolist()
    return [int(v) for v in cd]
