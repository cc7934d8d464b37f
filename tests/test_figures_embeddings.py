"""fer_core.figures.embeddings: the map's colours (one palette), hover text, drawn sample, the figure,
and selections mapped back to dataset rows; composed by embedding_map / map_selection. Planted
points, no Streamlit."""
import numpy as np
import pytest

from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS
from fer_core.data.dataset import load_dataset
from fer_core.figures import embeddings as figures
from fer_core.figures import style
from fer_testutils import planted_dataset


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)




# ---- colours, figure and the selection-to-row mapping --------------------------------------
def test_selection_maps_through_customdata_with_several_colored_traces():
    rng = np.random.default_rng(1)
    labels = rng.permutation(np.arange(42) % 7)        # 7 classes interleaved: 7 traces
    ds = planted_dataset(labels)
    colors = figures.point_colors(ds, "label")
    fig = figures.embedding_figure(rng.normal(size=(42, 2)), np.arange(42), colors, hover=figures.hover_texts(ds))
    assert len(fig.data) == 7
    # what Streamlit's event.selection.points holds: trace-local indices plus customdata
    picks = [(0, 1), (3, 0), (6, 5), (3, 2)]
    points = [{"curve_number": c, "point_number": p, "point_index": p, "x": float(fig.data[c].x[p]),
               "y": float(fig.data[c].y[p]), "customdata": int(fig.data[c].customdata[p])} for c, p in picks]
    rows = figures.selection_to_rows(points)
    expected = [int(np.flatnonzero(labels == c)[p]) for c, p in picks]
    assert rows.tolist() == expected
    assert rows.tolist() != [p for _, p in picks]  # the trap: trace-local indices
    assert all(labels[r] == c for r, (c, _) in zip(rows, picks))
    # customdata as a list (Plotly sends arrays for 2-D customdata), duplicates dropped
    assert figures.selection_to_rows([{"customdata": [5, 0.3]}, {"customdata": 5.0}, {"customdata": [2]}]).tolist() == [5, 2]
    assert figures.selection_to_rows([]).shape == (0,)
    with pytest.raises(ValueError, match="customdata"):
        figures.selection_to_rows([{"curve_number": 0, "point_index": 3}])


def test_selection_kind():
    assert figures.selection_kind({"points": [{"customdata": 1}], "box": [], "lasso": []}) == "click"
    assert figures.selection_kind({"points": [{"customdata": 1}], "box": [], "lasso": [{"x": [0]}]}) == "region"
    assert figures.selection_kind({"points": [], "box": [{"x": [0, 1]}], "lasso": []}) == "region"
    assert figures.selection_kind({"points": [], "box": [], "lasso": []}) is None


# ---- large maps: drawn sample, density layer, selections against every point ----------------
def test_display_sample_keeps_every_class_at_the_exact_size_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.permutation(np.r_[np.zeros(20000, int), np.full(3000, 3), np.full(5, 1), np.full(200, -1)])
    rows = figures.display_sample(y, 1000, seed=0)
    assert len(rows) == 1000 and (np.diff(rows) > 0).all() and rows.dtype == np.int64
    kept = {c: int((y[rows] == c).sum()) for c in (0, 1, 3, -1)}
    assert kept[1] == 5                                  # the rare class keeps all its 5 rows
    assert kept[-1] >= figures.MIN_PER_CLASS and kept[3] >= figures.MIN_PER_CLASS
    assert abs(kept[0] / kept[3] - 20000 / 3000) < 0.5   # the big classes keep about their ratio
    assert (figures.display_sample(y, 1000, seed=0) == rows).all()
    assert not np.array_equal(figures.display_sample(y, 1000, seed=1), rows)
    assert (figures.display_sample(y, len(y)) == np.arange(len(y))).all()
    assert (figures.display_sample(y[:500], 1000) == np.arange(500)).all()
    # floors alone over the budget: still exactly the budget, one row per class first
    many = np.arange(2000) % 40
    r = figures.display_sample(many, 100)
    assert len(r) == 100 and len(np.unique(many[r])) == 40
    assert len(figures.display_sample(many, 10)) == 10
    with pytest.raises(ValueError, match="labels"):
        figures.display_sample(np.zeros((3, 2)), 2)


def test_rows_in_box_and_lasso_on_planted_points():
    inside = [(1, 1), (4.9, 4.9), (0.5, 9.0), (9.0, 0.5)]
    outside = [(5.1, 5.1), (-0.1, 1.0), (1.0, -0.1), (9.5, 0.6), (20, 20)]
    xy = np.array(inside + outside, dtype=np.float32)
    tri_x, tri_y = [0, 10, 0], [0, 0, 10]             # x >= 0, y >= 0, x + y <= 10
    assert figures.rows_in_lasso(xy, tri_x, tri_y).tolist() == [0, 1, 2, 3]
    assert figures.rows_in_lasso(xy, tri_x + [0], tri_y + [0]).tolist() == [0, 1, 2, 3]  # closed explicitly
    assert figures.rows_in_lasso(xy, [0, 10], [0, 0]).shape == (0,)
    # random points, away from the edges, against the analytic test
    rng = np.random.default_rng(0)
    pts = rng.uniform(-2, 12, (5000, 2))
    s = pts.sum(1)
    pts = pts[(np.abs(s - 10) > 1e-3) & (np.abs(pts) > 1e-3).all(1)]
    truth = np.flatnonzero((pts[:, 0] > 0) & (pts[:, 1] > 0) & (pts.sum(1) < 10))
    assert figures.rows_in_lasso(pts, tri_x, tri_y).tolist() == truth.tolist()
    # a box given the way a drag from top-right to bottom-left sends it (bounds reversed)
    assert figures.rows_in_box(xy, [5.0, 0.5], [5.0, 0.9]).tolist() == [0, 1]
    assert figures.rows_in_box(xy, [-1, 30], [-1, 30]).tolist() == list(range(len(xy)))
    with pytest.raises(ValueError, match="coords2d"):
        figures.rows_in_box(np.zeros((4, 3)), [0, 1], [0, 1])


def test_a_region_on_a_sampled_map_selects_rows_that_were_not_drawn():
    rng = np.random.default_rng(2)
    n = 20000
    xy = rng.uniform(0, 100, (n, 2)).astype(np.float32)
    drawn = figures.display_sample(rng.integers(0, 7, n), 2000)
    in_box = np.flatnonzero((xy[:, 0] >= 10) & (xy[:, 0] <= 30) & (xy[:, 1] >= 20) & (xy[:, 1] <= 50))
    # what Streamlit sends for a box dragged over the drawn scatter: the drawn points inside, and the box
    pts = [{"curve_number": 1, "point_index": k, "customdata": int(r)}
           for k, r in enumerate(np.intersect1d(in_box, drawn))]
    sel = {"points": pts, "point_indices": list(range(len(pts))),
           "box": [{"xref": "x", "yref": "y", "x": [30.0, 10.0], "y": [50.0, 20.0]}], "lasso": []}
    rows = figures.selection_rows(sel, xy)
    assert rows.tolist() == in_box.tolist()
    assert len(np.setdiff1d(rows, drawn)) > 5 * len(pts) // 2        # most of them were not drawn
    assert figures.selection_rows(sel).tolist() == [p["customdata"] for p in pts]  # without coords: as before
    # a lasso (triangle) and a second box together: the union
    tri = {"xref": "x", "yref": "y", "x": [60.0, 90.0, 60.0], "y": [60.0, 60.0, 90.0]}
    in_tri = np.flatnonzero((xy[:, 0] >= 60) & (xy[:, 1] >= 60) & (xy.sum(1) <= 150))
    both = figures.selection_rows({"points": [], "box": sel["box"], "lasso": [tri]}, xy)
    assert both.tolist() == np.union1d(in_box, in_tri).tolist()
    # a click is the clicked point's row, coordinates or not; nothing selected is nothing
    click = {"points": [{"curve_number": 3, "point_index": 0, "customdata": [int(drawn[7])]}], "box": [], "lasso": []}
    assert figures.selection_rows(click, xy).tolist() == [int(drawn[7])]
    assert figures.selection_rows({"points": [], "box": [], "lasso": []}, xy).shape == (0,)


def test_large_map_figure_draws_a_sample_over_a_density_of_all_points():
    rng = np.random.default_rng(3)
    n = 200_000
    xy = rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.choice(7, n, p=[0.2, 0.0001, 0.15, 0.3, 0.15, 0.1, 0.0999])
    colors = {"kind": "categorical", "codes": labels, "names": list("abcdefg"), "colors": ["#000000"] * 7}
    drawn = figures.display_sample(labels, figures.MAX_DRAWN_POINTS)
    fig = figures.embedding_figure(xy, np.arange(n), colors, sample=drawn, hover=np.array(["h"] * len(drawn)))
    scatter = [t for t in fig.data if t.type == "scattergl" and t.meta != figures.PICKS_META]
    density = [t for t in fig.data if t.type == "heatmap"]
    assert sum(len(t.x) for t in scatter) == len(drawn) <= figures.MAX_DRAWN_POINTS
    assert len(scatter) == 7                               # the rare class too
    assert np.isin(np.concatenate([t.customdata for t in scatter]), drawn).all()
    assert len(density) == 1 and fig.data[0].type == "heatmap" and density[0].hoverinfo == "skip"
    picks = fig.data[1]  # the shading made clickable: invisible real points, under the drawn ones
    assert picks.meta == figures.PICKS_META and picks.marker.opacity == 0 and 1000 < len(picks.x) <= 96 ** 2
    np.testing.assert_array_equal(np.asarray(picks.x), xy[np.asarray(picks.customdata), 0])
    z = np.asarray(density[0].z)
    assert z.max() == 255 and z[z.shape[0] // 2, z.shape[1] // 2] > z[0, 0]  # dense centre, empty corner
    assert "50,000 of 200,000" in fig.layout.annotations[0].text
    small = figures.embedding_figure(xy[:1000], np.arange(1000), dict(colors, codes=labels[:1000]))
    assert not any(t.type == "heatmap" for t in small.data) and not small.layout.annotations
    assert sum(len(t.x) for t in small.data) == 1000
    three = figures.embedding_figure(rng.normal(size=(n, 3)), np.arange(n), colors, sample=drawn)
    assert [t.type for t in three.data] == ["scatter3d"] * 7 and sum(len(t.x) for t in three.data) == len(drawn)


def test_density_picks_one_point_per_cell_nearest_its_centre():
    xy = np.array([[0.1, 0.1], [0.3, 0.2], [0.9, 0.2], [0.6, 0.4],  # cells (0, 0), (0, 0), (1, 0), (1, 0)
                   [0.2, 0.8], [5.0, 5.0]])                          # cell (0, 1); outside the box
    picks = figures.density_picks(xy, (0, 0), (1, 1), bins=2)
    assert picks.tolist() == [1, 2, 4]  # nearest (0.25, 0.25), (0.75, 0.25), (0.25, 0.75); no empty cell
    assert figures.density_picks(xy[5:], (0, 0), (1, 1), bins=2).tolist() == []


def test_hover_texts_for_the_drawn_rows_only(sample):
    rows = np.array([9, 2, 5])
    assert figures.hover_texts(sample, rows=rows).tolist() == figures.hover_texts(sample)[rows].tolist()


def test_point_colors(sample):
    n = len(sample)
    probs = np.full((n, 7), 0.05)
    probs[np.arange(n), np.maximum(sample.labels, 0)] = 0.7
    probs[:10] = np.roll(probs[:10], 1, axis=1)  # the first 10 wrong
    for by in figures.COLOR_BY:
        c = figures.point_colors(sample, by, probs=probs, classes=FER2013_EMOTIONS)
        if c["kind"] == "categorical":
            assert len(c["codes"]) == n and c["codes"].max() < len(c["names"]) == len(c["colors"])
        else:
            assert c["values"].shape == (n,)
    corr = figures.point_colors(sample, "correct", probs=probs, classes=FER2013_EMOTIONS)["codes"]
    assert (corr[:10] == 1).all() and (corr[10:] == 0).all()
    with pytest.raises(ValueError, match="probabilities"):
        figures.point_colors(sample, "prediction")
    with pytest.raises(ValueError, match="FER\\+"):
        figures.point_colors(planted_dataset([0, 1, 2]), "ferplus")
    fig = figures.embedding_figure(np.zeros((n, 3)), np.arange(n), figures.point_colors(sample, "confidence", probs=probs,
                                                                                   classes=FER2013_EMOTIONS))
    assert fig.data[0].type == "scatter3d" and len(fig.data[0].customdata) == n
    texts = figures.hover_texts(sample, probs, FER2013_EMOTIONS)
    assert texts[0].startswith("#0 ") and "→" in texts[0] and texts[0].endswith("%)")


def test_available_colorings(sample):
    assert figures.available_colorings(sample, FER2013_EMOTIONS) == list(figures.COLOR_BY)
    no_fp = planted_dataset([0, 1, 2])
    assert figures.available_colorings(no_fp) == ["label", "split"]
    assert "correct" not in figures.available_colorings(no_fp, FERPLUS_EMOTIONS)
    assert "correct" in figures.available_colorings(sample, FERPLUS_EMOTIONS)
    assert "correct" not in figures.available_colorings(sample, ["a", "b"])


def test_selection_table(sample):
    rows = np.array([5, 1, 9])
    df = figures.selection_table(sample, rows, probs=np.eye(7)[np.zeros(len(sample), int)], classes=list("abcdefg"))
    assert df["index"].tolist() == [5, 1, 9] and df["row"].tolist() == sample.row[rows].tolist()
    assert set(df.columns) == {"index", "row", "split", "label", "prediction", "confidence"}
    assert (df["prediction"] == "a").all()


# ---- the map composed: embedding_map, drawn_rows, map_selection ------------------------------
def _clusters(per=400, seed=0):
    """7 classes, each a tight blob around its own planted centre (class c at (10 c, 5 + c % 2)),
    rows shuffled; model probabilities that predict the next class for the first 70 rows."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(7), per))
    centres = np.column_stack([10.0 * np.arange(7), 5.0 + np.arange(7) % 2])
    coords = (centres[labels] + rng.uniform(-1, 1, (len(labels), 2))).astype(np.float32)
    pred = labels.copy()
    pred[:70] = (labels[:70] + 1) % 7
    probs = np.full((len(labels), 7), 0.05, dtype=np.float32)
    probs[np.arange(len(labels)), pred] = 0.7
    return planted_dataset(labels, seed), coords, probs, pred


def test_drawn_rows_is_none_when_everything_is_drawn_and_reads_the_limit_at_call_time(monkeypatch):
    y = np.arange(1000) % 7
    assert figures.drawn_rows(y) is None
    rows = figures.drawn_rows(y, max_points=100)
    assert len(rows) == 100 and np.array_equal(rows, figures.display_sample(y, 100))
    monkeypatch.setattr(figures, "MAX_DRAWN_POINTS", 200)
    assert len(figures.drawn_rows(y)) == 200
    # over the limit a map draws SAMPLED_POINTS (a density image shows the rest): 2% of a million
    monkeypatch.undo()
    assert figures.sample_size(50_000) == 50_000 and figures.sample_size(50_001) == figures.SAMPLED_POINTS == 20_000
    assert figures.sample_size(1_000_000, 300) == 300 and figures.sample_size(200, 300) == 200


def test_every_class_gets_its_colour_from_the_one_palette(sample):
    ds, coords, probs, _ = _clusters(per=30)
    label = figures.point_colors(ds, "label")
    assert label["colors"] == list(style.CLASS_COLORS) + [style.NONE]
    fig = figures.embedding_map(ds, coords, color_by="label")
    for trace in fig.data:
        name = trace.name.split(" (")[0]
        assert trace.marker.color == style.CLASS_COLOR_BY_NAME[name]
    fp = figures.point_colors(ds, "prediction", probs=np.full((len(ds), 8), 1 / 8), classes=FERPLUS_EMOTIONS)
    assert fp["colors"] == [style.CLASS_COLOR_BY_NAME[c] for c in FERPLUS_EMOTIONS]
    assert figures.point_colors(ds, "correct", probs=probs, classes=FER2013_EMOTIONS)["colors"] == [
        style.GOOD, style.BAD, style.NONE]
    split = figures.point_colors(sample, "split")
    assert split["colors"] == [style.SPLIT_COLORS[s] for s in split["names"]]
    assert figures.point_colors(sample, "ferplus")["colors"] == [style.GOOD, style.BAD, style.NONE]


def test_embedding_map_puts_each_row_at_its_coordinates_with_its_colour_and_hover():
    ds, coords, probs, pred = _clusters(per=30)
    fig = figures.embedding_map(ds, coords, color_by="label", probs=probs, classes=FER2013_EMOTIONS)
    assert len(fig.data) == 7 and not any(t.type == "heatmap" for t in fig.data)  # 210 points: all drawn
    seen = []
    for c, trace in enumerate(fig.data):
        rows = np.asarray(trace.customdata)
        seen += rows.tolist()
        assert (ds.labels[rows] == c).all() and trace.name == f"{FER2013_EMOTIONS[c]} (30)"
        assert np.allclose(np.column_stack([trace.x, trace.y]), coords[rows])
        for r, text in zip(rows, trace.text):
            assert text == f"#{r} {FER2013_EMOTIONS[c]} → {FER2013_EMOTIONS[pred[r]]} (70%)"
    assert sorted(seen) == list(range(len(ds)))
    by_pred = figures.embedding_map(ds, coords, color_by="prediction", probs=probs, classes=FER2013_EMOTIONS)
    assert all((pred[np.asarray(t.customdata)] == c).all() for c, t in enumerate(by_pred.data))
    with pytest.raises(ValueError, match="coords"):
        figures.embedding_map(ds, coords[:-1])
    with pytest.raises(ValueError, match="probabilities"):
        figures.embedding_map(ds, coords, color_by="confidence")


def test_a_box_or_lasso_on_a_sampled_map_selects_every_row_of_the_planted_cluster():
    ds, coords, probs, _ = _clusters(per=400)
    fig = figures.embedding_map(ds, coords, color_by="label", max_points=300)
    drawn = figures.drawn_rows(ds.labels, max_points=300)
    assert len(drawn) == 300 and fig.data[0].type == "heatmap"
    assert fig.data[1].meta == figures.PICKS_META  # the shading's invisible click targets
    assert sorted(np.concatenate([t.customdata for t in fig.data[2:]]).tolist()) == drawn.tolist()
    cluster2, cluster5 = np.flatnonzero(ds.labels == 2), np.flatnonzero(ds.labels == 5)
    # Streamlit's selection: the drawn points inside, and the region itself
    drawn2 = [{"curve_number": 3, "point_index": k, "customdata": int(r)}
              for k, r in enumerate(np.intersect1d(cluster2, drawn))]
    box = {"points": drawn2, "box": [{"xref": "x", "yref": "y", "x": [22.0, 17.0], "y": [3.0, 7.5]}], "lasso": []}
    rows = figures.map_selection(box, coords, drawn=drawn)
    assert rows.tolist() == cluster2.tolist() and len(rows) == 400 > len(drawn2)
    lasso = {"points": [], "box": [], "lasso": [{"xref": "x", "yref": "y", "x": [47.0, 53.5, 53.5, 47.0],
                                                 "y": [3.0, 3.0, 8.0, 8.0]}]}
    assert figures.map_selection(lasso, coords, drawn=drawn).tolist() == cluster5.tolist()
    # a click is the clicked point's own row; every point drawn or a 3-D map: through customdata
    click = {"points": [{"curve_number": 4, "point_index": 0, "customdata": int(drawn[11])}], "box": [], "lasso": []}
    assert figures.map_selection(click, coords, drawn=drawn).tolist() == [int(drawn[11])]
    assert figures.map_selection(box, coords).tolist() == [p["customdata"] for p in drawn2]
    xyz = np.column_stack([coords, np.zeros(len(coords))])
    assert figures.map_selection(box, xyz, drawn=drawn).tolist() == [p["customdata"] for p in drawn2]
    assert figures.map_selection(None, coords, drawn=drawn).shape == (0,)


def test_selection_gallery_is_not_the_trace_order():
    """Issue 17: a box over 2,107 faces (1,313 neutral, 146 angry) showed 144 faces, all angry: the
    rows came in the map's trace (class) order and the gallery took the first 144."""
    from fer_core.figures.embeddings import selection_gallery
    counts = {0: 146, 1: 20, 2: 150, 3: 200, 4: 178, 5: 100, 6: 1313}  # 2,107 faces
    y = np.concatenate([np.full(n, c) for c, n in counts.items()])
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(y))
    rows = rows[np.argsort(y[rows], kind="stable")]  # trace order: all angry first, then disgust, ...
    shown, how = selection_gallery(rows, y, limit=144)
    got = np.bincount(y[shown], minlength=7)
    assert len(shown) == 144 and len(set(shown.tolist())) == 144 and set(shown) <= set(rows)
    assert got[6] == max(got) and 80 <= got[6] <= 92  # neutral in proportion (1,313 / 2,107 of 144 = 90)
    assert got[0] >= 8 and got[1] >= 3  # angry in proportion; rare disgust keeps a few
    assert (np.diff(y[shown]) >= 0).all() and "class-stratified sample of 144 of the 2,107" in how
    # with label-error scores: the most suspicious first, whatever their class
    scores = np.full(len(y), np.nan)
    scores[rows[:500]] = rng.random(500)
    shown, how = selection_gallery(rows, y, scores=scores, limit=10)
    assert shown.tolist() == rows[:500][np.argsort(-scores[rows[:500]])][:10].tolist()
    assert "highest label-error score" in how
    small, how = selection_gallery(np.array([9, 2, 2100]), y)
    assert small.tolist() == [2, 9, 2100] and how.startswith("All 3 selected images")


# ---- a million points: lasso by scanlines, views (zoom), what is drawn in words (issue 18) ----------
def test_lasso_matches_matplotlib_on_random_and_self_crossing_polygons():
    """The scanline even-odd test gives matplotlib's Path.contains_points answer (which it replaced:
    ~5 s on a million points)."""
    from matplotlib.path import Path
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 10, (20_000, 2)).astype(np.float32)
    star = [(5 + 4 * np.cos(a) * (1 if k % 2 else 0.4), 5 + 4 * np.sin(a) * (1 if k % 2 else 0.4))
            for k, a in enumerate(np.linspace(0, 2 * np.pi, 11)[:-1])]
    bowtie = [(1, 1), (9, 9), (9, 1), (1, 9)]                          # crosses itself
    wiggly = list(zip(*(rng.uniform(0, 10, 60), rng.uniform(0, 10, 60))))  # a scribble: many crossings
    for poly in (star, bowtie, wiggly, [(2, 2), (8, 2.5), (5, 8)]):
        xs, ys = (np.array(v, dtype=float) for v in zip(*poly))
        want = np.flatnonzero(Path(np.column_stack([xs, ys])).contains_points(xy.astype(np.float64)))
        got = figures.rows_in_lasso(xy, xs, ys)
        assert got.tolist() == want.tolist() and len(want) > 100
    assert figures.rows_in_lasso(xy, [1, 2], [1, 2]).shape == (0,)      # not a polygon


def test_split_colours_keep_their_order_and_codes():
    ds = planted_dataset(np.zeros(7, int))
    ds.split = np.array(["PrivateTest", "", "Training", "odd", "PublicTest", "Training", ""])
    c = figures.point_colors(ds, "split")
    assert c["names"] == ["PrivateTest", "PublicTest", "Training", "odd", "(no split)"]
    assert [c["names"][k] for k in c["codes"]] == ["PrivateTest", "(no split)", "Training", "odd", "PublicTest",
                                                   "Training", "(no split)"]
    assert c["colors"][2] == style.SPLIT_COLORS["Training"] and c["colors"][-1] == style.SPLIT_COLORS.get("", style.NONE)


def test_a_view_draws_the_points_inside_it_over_their_density_and_says_so():
    rng = np.random.default_rng(2)
    n = 30_000
    labels = rng.integers(0, 7, n)
    xy = rng.normal(0, 3, (n, 2)).astype(np.float32)
    xy[:12] = rng.uniform(20, 21, (12, 2))                               # a far cluster of 12 known rows
    whole = figures.map_draw(labels, xy, max_points=1000)
    assert len(whole.drawn) == 1000 and whole.sampled and whole.view is None
    assert whole.summary().startswith("1,000 of 30,000 points are drawn (3.3%, a class-stratified sample)")
    view = figures.selection_view(xy, np.arange(12))
    lo, hi = xy[:12].min(0), xy[:12].max(0)
    assert all(view[d][0] < lo[d] and view[d][1] > hi[d] and view[d][1] - view[d][0] < 2 for d in (0, 1))
    zoom = figures.map_draw(labels, xy, max_points=1000, view=view)
    assert zoom.drawn.tolist() == list(range(12)) and not zoom.sampled
    assert zoom.summary() == "zoomed in: all 12 points in view are drawn (of 30,000)"
    ds = planted_dataset(labels)
    fig = figures.embedding_map(ds, xy, draw=zoom)
    assert [t.type for t in fig.data].count("heatmap") == 0            # every point in view is drawn
    assert sorted(np.concatenate([t.customdata for t in fig.data]).tolist()) == list(range(12))
    assert list(fig.layout.xaxis.range) == list(view[0]) and "12 points in view" in fig.layout.annotations[0].text
    # a view holding more than the limit: a sample over a density image of the points in the view only
    centre = figures.map_draw(labels, xy, max_points=500, view=((-3, 3), (-3, 3)))
    inside = np.flatnonzero((np.abs(xy) <= 3).all(1))
    assert centre.n_region == len(inside) and len(centre.drawn) == 500 and np.isin(centre.drawn, inside).all()
    assert centre.summary().startswith(f"zoomed in: 500 of the {len(inside):,} points in view are drawn")
    fig = figures.embedding_map(ds, xy, draw=centre)
    assert fig.data[0].type == "heatmap"
    legend = {t.name.split(" (")[0]: t.name for t in fig.data[1:]}
    c0 = int((labels[inside] == 0).sum())
    assert legend[FER2013_EMOTIONS[0]].startswith(f"{FER2013_EMOTIONS[0]} ({c0:,}; ")  # counts in the view
    with pytest.raises(ValueError, match="view"):
        figures.map_draw(labels, xy, view=((1, 1), (0, 2)))
    with pytest.raises(ValueError, match="2-D"):
        figures.map_draw(labels, np.column_stack([xy, xy[:, :1]]), view=view)


def test_label_counts_most_frequent_first():
    y = np.array([3, 3, 0, -1, 3, 0, 6])
    assert figures.label_counts(y, np.arange(7)) == [("happy", 3), ("angry", 2), ("neutral", 1), ("unlabeled", 1)]
    assert figures.label_counts(y, [2, 6]) == [("angry", 1), ("neutral", 1)]
