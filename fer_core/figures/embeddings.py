"""The embedding map: which points to draw, their colours and hover text, the Plotly figure, and a
selection on it mapped back to dataset rows. Arrays in, figures and rows out; nothing drawn (like
Captum's use_pyplot=False), no Streamlit.

* :func:`embedding_map` composes the whole map from a dataset, the map coordinates
  (:func:`fer_core.analysis.embed.get_projection`) and a model's probabilities
  (:func:`fer_core.analysis.predictions.get_predictions`); :func:`map_selection` maps a Streamlit
  selection on it back to dataset rows.
* Colours: :func:`point_colors` (the :data:`COLOR_BY` choices), from the one palette of
  :mod:`fer_core.figures.style`; hover lines: :func:`hover_texts`.
* Clicks and lassos: every point carries its dataset row as ``customdata``; :func:`selection_to_rows`
  maps a Plotly selection back through it, never through trace-local point indices.
* Large maps: over :data:`MAX_DRAWN_POINTS` points the figure draws a class-stratified
  :func:`display_sample` (:data:`SAMPLED_POINTS`) over a density image of all points, and
  :func:`selection_rows` resolves a box or lasso against every point's coordinates
  (:func:`rows_in_box`, :func:`rows_in_lasso`), so a region selects the rows that were not drawn too.
  A map zoomed in to a view (:func:`map_draw`, :func:`selection_view`) draws the points inside it,
  all of them up to :data:`MAX_DRAWN_POINTS`; :class:`MapDraw` says in words what is drawn.

The map itself is Plotly (WebGL, lasso, 3-D); what a page draws first is Vega-Lite instead (the
other figures modules): it loads ~1 s faster in a new tab.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import plotly.graph_objects as go

from fer_core.constants import FER2013_EMOTIONS, LABEL_SETS
from fer_core.data.dataset import Dataset
from fer_core.figures.style import BAD, CLASS_COLOR_BY_NAME, GOOD, NONE, SPLIT_COLORS

#: What the map's points can be coloured by (key -> label shown in the dashboard).
COLOR_BY: dict[str, str] = {
    "label": "FER2013 label", "prediction": "prediction", "correct": "correct / wrong",
    "split": "split", "ferplus": "FER+ agreement", "confidence": "confidence",
}
#: The most points the Embeddings page sends to the browser as a scatter. A larger map (or view of
#: it) draws a :func:`display_sample` of :data:`SAMPLED_POINTS` over a density image of all its
#: points, and box/lasso selections are resolved on the server against every point
#: (:func:`selection_rows`). FER2013's 35,887 points are all drawn.
MAX_DRAWN_POINTS = 50_000
#: How many points a sampled map draws (at most :data:`MAX_DRAWN_POINTS`): once a density image
#: shows every point, the drawn ones only carry colour and a click target. 20,000 of a 1M map
#: (2%) against 50,000: a new tab paints in about half the time and a box selection redraws faster
#: (bench/RESULTS.md, "The Embeddings map at a million points").
SAMPLED_POINTS = 20_000
#: Every class keeps at least min(its count, this) points in a :func:`display_sample`.
MIN_PER_CLASS = 50
#: Cells across the longer side of the grid whose nearest-to-centre points make a sampled map's
#: shading clickable (:func:`density_picks`): at most 96 x 96 invisible points (~5,000 on a map
#: that fills half its box), one every ~8 px of an 800 px map.
PICK_BINS = 96
#: ``meta`` of that invisible trace (browser tests and benchmarks tell it from the drawn points).
PICKS_META = "density picks"


# ---- the map, composed ----------------------------------------------------------------------
def sample_size(n: int, max_points: int | None = None) -> int:
    """How many of `n` points a map draws: all of them up to `max_points` (default
    :data:`MAX_DRAWN_POINTS`), else min(`max_points`, :data:`SAMPLED_POINTS`) (both read at call time)."""
    limit = MAX_DRAWN_POINTS if max_points is None else int(max_points)
    return n if n <= limit else min(limit, SAMPLED_POINTS)


def drawn_rows(labels: np.ndarray, *, max_points: int | None = None) -> np.ndarray | None:
    """The rows a map of these points draws: None when it draws all of them, else the (M,) int64
    sorted rows of a seeded class-stratified :func:`display_sample` of :func:`sample_size` points.

    Args:
        labels: (N,) int class per point (-1 = unlabeled), e.g. ``Dataset.labels``.
    """
    labels = np.asarray(labels)
    rows = display_sample(labels, max(sample_size(len(labels), max_points), 1))
    return None if len(rows) == len(labels) else rows


@dataclass(frozen=True)
class MapDraw:
    """What a map draws (:func:`map_draw`).

    Attributes:
        drawn: (M,) int64 sorted dataset rows drawn as points.
        n_region: points in the view (every point, N, without a view); the density image counts them.
        n_all: N, the map's points.
        view: ((x0, x1), (y0, y1)) the region a zoomed-in 2-D map frames, or None (the whole map).
    """

    drawn: np.ndarray
    n_region: int
    n_all: int
    view: tuple | None = None

    @property
    def sampled(self) -> bool:
        """True when some points of the region are not drawn (a density image shows them)."""
        return len(self.drawn) < self.n_region

    def summary(self) -> str:
        """What is drawn, in words: '50,000 of 1,000,000 points are drawn (5.0%, a class-stratified
        sample); the grey shading counts all 1,000,000', or for a view 'zoomed in: all 4,786 points
        in view are drawn (of 1,000,000)'."""
        m, r, n = len(self.drawn), self.n_region, self.n_all
        share = 100 * m / max(r, 1)
        pct = f"{share:.1f}%" if share >= 0.1 else f"{share:.2g}%"
        if self.view is None:
            if not self.sampled:
                return f"all {n:,} points are drawn"
            return (f"{m:,} of {n:,} points are drawn ({pct}, a class-stratified sample); "
                    f"the grey shading counts all {n:,}")
        if not self.sampled:
            return f"zoomed in: all {r:,} points in view are drawn (of {n:,})"
        return (f"zoomed in: {m:,} of the {r:,} points in view are drawn ({pct}); the grey shading counts "
                f"all {r:,} (of {n:,})")


def map_draw(labels: np.ndarray, coords: np.ndarray, *, max_points: int | None = None, view=None) -> MapDraw:
    """The points a map draws: every point of the region (the whole map, or the `view` of a 2-D
    map) when they fit in `max_points` (default :data:`MAX_DRAWN_POINTS`, read at call time), else
    a seeded class-stratified :func:`display_sample` of :func:`sample_size` of them.

    Args:
        labels: (N,) int class per point (-1 = unlabeled).
        coords: (N, 2|3) map coordinates.
        view: ((x0, x1), (y0, y1)) of a 2-D map: only the points inside are drawn (zoomed in);
            None: the whole map.

    Example:
        >>> d = map_draw(np.zeros(1000, int), np.random.rand(1000, 2), max_points=100)
        >>> len(d.drawn), d.sampled
        (100, True)
    """
    labels, xy = np.asarray(labels), np.asarray(coords)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3) or len(xy) != len(labels):
        raise ValueError(f"coords must be (N, 2|3) with N = len(labels) = {len(labels)}, got {xy.shape}")
    if view is not None:
        if xy.shape[1] != 2:
            raise ValueError("a view (zoom) needs a 2-D map")
        view = _check_view(view)
        region = rows_in_box(xy, *view)
    else:
        region = np.arange(len(labels), dtype=np.int64)
    drawn = region[display_sample(labels[region], sample_size(len(region), max_points))] if len(region) else region
    return MapDraw(drawn, len(region), len(labels), view)


def _check_view(view) -> tuple:
    try:
        (x0, x1), (y0, y1) = view
        out = (tuple(sorted((float(x0), float(x1)))), tuple(sorted((float(y0), float(y1)))))
    except (TypeError, ValueError):
        raise ValueError(f"a view must be ((x0, x1), (y0, y1)), got {view!r}") from None
    if not np.isfinite(out).all() or out[0][0] == out[0][1] or out[1][0] == out[1][1]:
        raise ValueError(f"a view must be a finite box of positive size, got {view!r}")
    return out


def selection_view(coords2d: np.ndarray, rows: np.ndarray, *, pad: float = 0.08) -> tuple | None:
    """The view ((x0, x1), (y0, y1)) that frames the points `rows` of a 2-D map with a margin of
    `pad` of its size on each side (at least a 1/200 of the whole map's extent, so that a single
    point or a tight cluster still gets a view); None for no rows."""
    xy = _check_coords2d(coords2d)
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return None
    lo, hi = xy[rows].min(0).astype(np.float64), xy[rows].max(0).astype(np.float64)
    floor = (np.nanmax(xy, 0) - np.nanmin(xy, 0)).astype(np.float64) / 200 + 1e-9
    half = np.maximum((hi - lo) / 2 * (1 + 2 * pad), floor)
    mid = (lo + hi) / 2
    return ((float(mid[0] - half[0]), float(mid[0] + half[0])), (float(mid[1] - half[1]), float(mid[1] + half[1])))


def embedding_map(ds: Dataset, coords: np.ndarray, *, color_by: str = "label", probs: np.ndarray | None = None,
                  classes: Iterable[str] | None = None, max_points: int | None = None,
                  draw: MapDraw | None = None) -> go.Figure:
    """The Embeddings page's map of `ds`: every point coloured by `color_by`, a hover line each,
    its dataset row in ``customdata``; over `max_points` points a :func:`drawn_rows` sample over a
    density image of all of them.

    Args:
        ds: the dataset the map was computed on (labels, splits, FER+ votes colour the points).
        coords: (N, 2) or (N, 3) map coordinates, row i = dataset row i (N = len(ds)).
        color_by: a key of :data:`COLOR_BY` (see :func:`available_colorings`).
        probs: (N, K) float model probabilities (rows sum to 1): needed for the prediction,
            correct and confidence colourings, and adds "→ prediction (confidence)" to the hover.
        classes: (K,) the model's class names (with `probs`).
        max_points: the most points drawn (default :data:`MAX_DRAWN_POINTS`).
        draw: what to draw (:func:`map_draw`, e.g. zoomed in to a view); default
            ``map_draw(ds.labels, coords, max_points=max_points)``.

    Returns:
        The Plotly figure (:func:`embedding_figure`); resolve a selection on it with
        :func:`map_selection` and the same `max_points`.

    Raises:
        ValueError: coords not (len(ds), 2|3), an unknown `color_by`, or one that needs
            probabilities or FER+ votes that are missing.
    """
    xy = np.asarray(coords)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3) or len(xy) != len(ds):
        raise ValueError(f"coords must be (N, 2|3) with N = len(ds) = {len(ds)}, got shape {xy.shape}")
    colors = point_colors(ds, color_by, probs=probs, classes=classes)
    draw = draw or map_draw(ds.labels, xy, max_points=max_points)
    hover = hover_texts(ds, probs, classes, rows=draw.drawn)
    return embedding_figure(xy, np.arange(len(ds)), colors, hover=hover, sample=draw.drawn, view=draw.view)


def map_selection(selection: Mapping[str, Any] | None, coords: np.ndarray, *, drawn: np.ndarray | None = None
                  ) -> np.ndarray:
    """Dataset rows of a Streamlit selection on :func:`embedding_map`'s figure.

    Clicks (and any selection on a map that draws every point, or on a 3-D map) come back through
    the points' ``customdata``; a box or lasso on a 2-D map that draws only a sample is resolved
    against every point's coordinates, so it also selects the rows that were not drawn.

    Args:
        selection: ``st.session_state[key].selection`` (points, box, lasso).
        coords: (N, 2|3) the map's coordinates, row i = dataset row i.
        drawn: the map's :func:`drawn_rows` (None: every point is drawn).

    Returns:
        (M,) int64 rows: sorted for a region resolved on coordinates, in selection order otherwise.
    """
    xy = np.asarray(coords)
    if drawn is not None and xy.ndim == 2 and xy.shape[1] == 2 and selection_kind(selection) == "region":
        return selection_rows(selection, xy)
    return selection_rows(selection)


# ---- colours and hover text --------------------------------------------------------------------
def _label_set_of(classes: Iterable[str]) -> str | None:
    classes = tuple(str(c) for c in classes)
    return next((name for name, ls in LABEL_SETS.items() if ls.classes == classes), None)


def available_colorings(ds: Dataset, classes: Iterable[str] | None = None) -> list[str]:
    """The :data:`COLOR_BY` keys that work for `ds` and a model with these classes."""
    out = ["label"]
    if classes is not None:
        out.append("prediction")
        ls = _label_set_of(classes)
        if ls is not None and (ls != "ferplus" or ds.ferplus is not None):
            out.append("correct")
    out.append("split")
    if ds.ferplus is not None:
        out.append("ferplus")
    if classes is not None:
        out.append("confidence")
    return out


def point_colors(ds: Dataset, by: str, *, probs: np.ndarray | None = None,
                 classes: Iterable[str] | None = None) -> dict[str, Any]:
    """How to colour every point of a map.

    Args:
        by: a key of :data:`COLOR_BY`.
        probs: (N, K) model probabilities (needed for prediction, correct, confidence).
        classes: (K,) the model's class names.

    Returns:
        categorical: {"kind": "categorical", "codes": (N,) int, "names": [...], "colors": [...]}
        (code c -> names[c], colors[c]); continuous: {"kind": "continuous", "values": (N,) float,
        "title": str}.

    Raises:
        ValueError: unknown `by`, or it needs probabilities / FER+ votes that are missing.
    """
    n = len(ds)
    if by not in COLOR_BY:
        raise ValueError(f"color by must be one of {list(COLOR_BY)}, got {by!r}")
    if by in ("prediction", "correct", "confidence"):
        if probs is None or classes is None:
            raise ValueError(f"colouring by {by} needs the model's probabilities and classes")
        probs = np.asarray(probs)
        if probs.shape[0] != n:
            raise ValueError(f"probs has {probs.shape[0]} rows, the dataset {n}")
        classes = [str(c) for c in classes]

    def categorical(codes, names, colors):
        return {"kind": "categorical", "codes": np.asarray(codes, dtype=np.int64), "names": list(names),
                "colors": list(colors)}

    if by == "label":
        names = list(FER2013_EMOTIONS) + ["unlabeled"]
        codes = np.where(ds.labels >= 0, ds.labels, len(FER2013_EMOTIONS))
        return categorical(codes, names, [CLASS_COLOR_BY_NAME[c] for c in FER2013_EMOTIONS] + [NONE])
    if by == "prediction":
        return categorical(probs.argmax(1), classes, [CLASS_COLOR_BY_NAME.get(c, NONE) for c in classes])
    if by == "confidence":
        return {"kind": "continuous", "values": probs.max(1).astype(np.float32), "title": "confidence"}
    if by == "correct":
        label_set = _label_set_of(classes)
        if label_set is None:
            raise ValueError(f"cannot compare predictions over {classes} with the dataset's labels")
        truth = ds.labels_in(label_set)
        codes = np.where(truth < 0, 2, np.where(probs.argmax(1) == truth, 0, 1))
        return categorical(codes, ["correct", "wrong", "no label"], [GOOD, BAD, NONE])
    if by == "split":
        import pandas as pd
        inverse, uniq = pd.factorize(ds.split)  # hashing: a million rows in ~0.1 s (a dict lookup per row: 2 s)
        names = sorted(map(str, uniq), key=lambda s: (s == "", s not in SPLIT_COLORS, s))
        lut = np.array([names.index(str(u)) for u in uniq], dtype=np.int64)
        codes = lut[inverse]
        return categorical(codes, [s or "(no split)" for s in names], [SPLIT_COLORS.get(s, NONE) for s in names])
    # ferplus
    if ds.ferplus is None:
        raise ValueError("colouring by FER+ agreement needs FER+ votes (fer2013new.csv)")
    from fer_core.data.images import AGREEMENT, agreement_codes
    fp = ds.ferplus
    codes = agreement_codes(ds.labels, fp.majority, fp.majority_fer2013)
    return categorical(codes, [f"FER+ {a}" for a in AGREEMENT], [GOOD, BAD, NONE])


def hover_texts(ds: Dataset, probs: np.ndarray | None = None, classes: Iterable[str] | None = None, *,
                rows: np.ndarray | None = None) -> np.ndarray:
    """(N,) str hover line per point: '#index label → prediction (confidence)'.

    With `rows` ((M,) int dataset rows, e.g. a :func:`display_sample`), only those M lines are
    built (a million strings take about 2 s; the 50,000 drawn ones a tenth of that)."""
    idx = np.arange(len(ds)) if rows is None else np.asarray(rows, dtype=np.int64)
    y = ds.labels[idx]
    lab = np.array(list(FER2013_EMOTIONS) + ["unlabeled"])[np.where(y >= 0, y, len(FER2013_EMOTIONS))]
    out = np.char.add(np.char.add("#", idx.astype(str)), np.char.add(" ", lab))
    if probs is not None and classes is not None:
        p = np.asarray(probs) if rows is None else np.asarray(probs)[idx]
        pred = np.asarray([str(c) for c in classes])[p.argmax(1)]
        conf = np.char.add(np.round(p.max(1) * 100).astype(int).astype(str), "%)")
        out = np.char.add(out, np.char.add(np.char.add(" → ", pred), np.char.add(" (", conf)))
    return out



# ---- selections ------------------------------------------------------------------------------
def selection_to_rows(points: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Dataset rows of the points of a Plotly selection (``event.selection.points``).

    Each point carries its dataset row as ``customdata`` (a number, or a list whose first item is
    the row). The trace-local ``point_index`` is not used: with one trace per colour it restarts
    at 0 in every trace.

    Returns:
        (M,) int64 unique rows, in first-selected order.

    Raises:
        ValueError: a point has no customdata (the figure was not built with rows in customdata).
    """
    rows: list[int] = []
    for p in points or []:
        cd = p.get("customdata") if isinstance(p, Mapping) else None
        if isinstance(cd, (list, tuple, np.ndarray)):
            cd = cd[0] if len(cd) else None
        if cd is None:
            raise ValueError("selected point has no customdata: build the figure with rows in customdata "
                             "(embedding_figure)")
        rows.append(int(round(float(cd))))
    if not rows:
        return np.zeros(0, dtype=np.int64)
    arr = np.asarray(rows, dtype=np.int64)
    _, first = np.unique(arr, return_index=True)
    return arr[np.sort(first)]


def selection_table(ds: Dataset, rows: np.ndarray, *, probs: np.ndarray | None = None,
                    classes: Iterable[str] | None = None):
    """The selected rows as a DataFrame for display and CSV export: index (dataset row), row (row
    in the source file), split, label, and with `probs` prediction and confidence."""
    import pandas as pd
    rows = np.asarray(rows, dtype=np.int64)
    names = np.array(list(FER2013_EMOTIONS) + ["unlabeled"])
    df = pd.DataFrame({"index": rows, "row": ds.row[rows], "split": ds.split[rows],
                       "label": names[np.where(ds.labels[rows] >= 0, ds.labels[rows], len(FER2013_EMOTIONS))]})
    if probs is not None and classes is not None:
        p = np.asarray(probs)[rows]
        df["prediction"] = np.asarray([str(c) for c in classes])[p.argmax(1)] if len(rows) else []
        df["confidence"] = p.max(1).round(4) if len(rows) else []
    return df


def label_counts(labels: np.ndarray, rows: np.ndarray) -> list[tuple[str, int]]:
    """[(FER2013 label name or 'unlabeled', count)] of the rows `rows`, most frequent first (ties:
    class order); classes with no row left out. A million rows in a few ms (no table is built)."""
    y = np.asarray(labels)[np.asarray(rows, dtype=np.int64)]
    k = len(FER2013_EMOTIONS)
    counts = np.bincount(np.where(y >= 0, y, k), minlength=k + 1)
    names = list(FER2013_EMOTIONS) + ["unlabeled"]
    return [(names[c], int(counts[c])) for c in np.argsort(-counts, kind="stable") if counts[c]]


#: Faces the gallery of a map selection shows at most (its CSV export has every selected row).
GALLERY_SIZE = 144


def selection_gallery(rows: np.ndarray, labels: np.ndarray, *, scores: np.ndarray | None = None,
                      limit: int = GALLERY_SIZE, seed: int = 0) -> tuple[np.ndarray, str]:
    """The faces of a map selection to show, in a stated order, and the sentence that states it.

    A selection comes back in the map's trace order (one trace per class), so its first rows are
    all of one class; the gallery never shows them in that order.

    Args:
        rows: (M,) int dataset rows of the selection.
        labels: (N,) int class per dataset row (-1 = unlabeled), e.g. ``Dataset.labels``.
        scores: (N,) float label-error score per dataset row, higher = more likely mislabeled (NaN:
            not scored, shown last), e.g. the label_errors artifact's ``score_ensemble``. Given:
            the `limit` highest-scoring rows, most suspicious first.
            None: every row when they fit, else a seeded class-stratified :func:`display_sample`
            (each class in proportion to its count, at least min(its count, 3)); grouped by class,
            dataset order within a class.
        limit: the most faces shown.

    Returns:
        ((K,) int64 rows to show, K = min(M, limit); the order in words, for a caption).

    Example:
        >>> y = np.r_[np.zeros(146, int), np.full(1313, 6)]        # angry, then neutral (trace order)
        >>> shown, how = selection_gallery(np.arange(len(y)), y, limit=144)
        >>> int((y[shown] == 0).sum()), int((y[shown] == 6).sum())
        (14, 130)
    """
    rows, y = np.asarray(rows, dtype=np.int64), np.asarray(labels)
    n = len(rows)
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)[rows]
        order = np.lexsort((rows, -np.nan_to_num(s, nan=-np.inf)))[:limit]  # ties: dataset order
        return rows[order], (f"{'All' if n <= limit else f'The {limit:,} of {n:,}'} selected images with the "
                             "highest label-error score (most likely mislabeled first)")
    if n > limit:
        rows = rows[display_sample(y[rows], limit, seed=seed, min_per_class=3)]
    shown = rows[np.lexsort((rows, y[rows]))]
    return shown, (f"All {n:,} selected images" if n <= limit else
                   f"A class-stratified sample of {limit:,} of the {n:,} selected images (each class in "
                   "proportion to its count, at least 3)") + ", grouped by class"


def selection_kind(selection: Mapping[str, Any] | None) -> str | None:
    """'region' for a box or lasso selection, 'click' for clicked point(s), None when empty."""
    if not selection:
        return None
    if selection.get("box") or selection.get("lasso"):
        return "region"
    return "click" if selection.get("points") else None


# ---- large maps: a drawn sample, and selections resolved against every point ------------------
def display_sample(labels: np.ndarray, max_points: int, *, seed: int = 0,
                   min_per_class: int = MIN_PER_CLASS) -> np.ndarray:
    """Rows of a map to draw: all of them, or a seeded class-stratified sample of `max_points`.

    Each class (each distinct value of `labels`; -1 = unlabeled is a class of its own) gets its
    proportional share of `max_points`, raised to min(its count, `min_per_class`) so that a rare
    class such as disgust stays visible; the classes above their floor share the rest in
    proportion to their size (largest remainders, so the total is exact). Within a class the
    rows are drawn uniformly at random.

    Args:
        labels: (N,) int class per row.
        max_points: how many rows to return at most (>= 1).
        seed: the same labels and seed give the same rows.
        min_per_class: the per-class floor (when the floors alone exceed `max_points`, the budget
            is shared in proportion to the floors instead, at least 1 per class while it lasts).

    Returns:
        (M,) int64 sorted row indices, M = min(N, max_points): np.arange(N) when N <= max_points.

    Example:
        >>> y = np.r_[np.zeros(1000, int), np.ones(5, int)]
        >>> rows = display_sample(y, 100)
        >>> len(rows), int((y[rows] == 1).sum())
        (100, 5)
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be (N,), got shape {y.shape}")
    if int(max_points) < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    if min_per_class < 0:
        raise ValueError(f"min_per_class must be >= 0, got {min_per_class}")
    if len(y) <= max_points:
        return np.arange(len(y), dtype=np.int64)
    return _compute_display_sample(y, int(max_points), seed=seed, min_per_class=int(min_per_class))


def _largest_remainder(quota: np.ndarray, total: int, cap: np.ndarray) -> np.ndarray:
    """Integers k <= cap, each floor(quota) or one more, the largest fractional parts rounded up
    until the sum reaches `total` (exactly when quota <= cap and quota.sum() == total)."""
    k = np.minimum(np.floor(quota).astype(np.int64), cap)
    frac = np.where(k < cap, quota - k, -1.0)
    for i in np.argsort(-frac, kind="stable")[:max(total - int(k.sum()), 0)]:
        if frac[i] >= 0:
            k[i] += 1
    return k


def _compute_display_sample(y: np.ndarray, max_points: int, *, seed: int, min_per_class: int) -> np.ndarray:
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    floor = np.minimum(counts, min_per_class)
    if floor.sum() < max_points:  # the usual case: proportional, raised to the floors
        fixed = np.zeros(len(counts), dtype=bool)  # classes held at their floor
        while True:
            budget = max_points - floor[fixed].sum()
            quota = np.where(fixed, floor, counts * (budget / max(counts[~fixed].sum(), 1)))
            low = ~fixed & (quota < floor)
            if not low.any():
                break
            fixed |= low
        take = _largest_remainder(np.minimum(quota, counts), max_points, counts)
        for c in np.argsort(take - counts, kind="stable"):  # what capping at a class's size left over
            take[c] += min(max_points - int(take.sum()), counts[c] - take[c])
    else:  # the floors alone exceed the budget: one row per class, the rest in proportion to the floors
        ones = np.minimum(floor, 1)
        if ones.sum() >= max_points:  # more classes than points: one row from each of the largest
            take = np.zeros_like(counts)
            take[np.argsort(-counts, kind="stable")[:max_points]] = 1
        else:
            rest, extra = max_points - int(ones.sum()), floor - ones
            take = ones + _largest_remainder(extra * (rest / extra.sum()), rest, extra)
    rng = np.random.default_rng(seed)
    order = np.argsort(inverse, kind="stable")  # rows grouped by class, ascending within each
    starts = np.r_[0, np.cumsum(counts)]
    parts = []
    for c in np.flatnonzero(take):
        g = order[starts[c]:starts[c + 1]]
        parts.append(g if take[c] >= len(g) else rng.choice(g, int(take[c]), replace=False))
    return np.sort(np.concatenate(parts)).astype(np.int64)


def _check_coords2d(coords2d: np.ndarray) -> np.ndarray:
    xy = np.asarray(coords2d)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"coords2d must be (N, 2), got shape {xy.shape}")
    return xy


def rows_in_box(coords2d: np.ndarray, x_range, y_range) -> np.ndarray:
    """Rows whose point lies in an axis-aligned box (edges included).

    Args:
        coords2d: (N, 2) map coordinates of every point.
        x_range, y_range: the box's two x and two y bounds, in either order (Plotly's box
            selection sends ``{"x": [x0, x1], "y": [y0, y1]}``).

    Returns:
        (M,) int64 sorted row indices.
    """
    return np.flatnonzero(_box_mask(_check_coords2d(coords2d), x_range, y_range)).astype(np.int64)


def rows_in_lasso(coords2d: np.ndarray, xs, ys) -> np.ndarray:
    """Rows whose point lies inside a lasso polygon (closed automatically; even-odd rule).

    Args:
        coords2d: (N, 2) map coordinates of every point.
        xs, ys: (V,) the polygon's vertices (Plotly's lasso selection sends ``{"x": [...], "y": [...]}``).

    Returns:
        (M,) int64 sorted row indices; empty for a polygon of fewer than 3 vertices.
    """
    return np.flatnonzero(_lasso_mask(_check_coords2d(coords2d), xs, ys)).astype(np.int64)


def _box_mask(xy: np.ndarray, x_range, y_range) -> np.ndarray:
    (x0, x1), (y0, y1) = sorted(map(float, x_range)), sorted(map(float, y_range))
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)


def _lasso_mask(xy: np.ndarray, xs, ys) -> np.ndarray:
    # Even-odd rule, as matplotlib.path.Path.contains_points, by scanlines: the candidates (points in
    # the polygon's bounding box) sorted by y, each edge toggles the points of its y-span [y0, y1)
    # that lie left of it. The work is one sort plus the points each edge spans (about 2x the
    # candidates for a lasso-like shape) instead of points x vertices: a lasso around all of a 1M map
    # takes 0.3-0.4 s with 50, 300 or 1,000 vertices, Path.contains_points 0.2, 0.7 and 2.5 s (a
    # freehand lasso has hundreds). tests/test_figures_embeddings.py checks it against matplotlib.
    verts = np.column_stack([np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)])
    mask = np.zeros(len(xy), dtype=bool)
    if len(verts) < 3 or not np.isfinite(verts).all():
        return mask
    lo, hi = verts.min(0), verts.max(0)
    cand = np.flatnonzero(_box_mask(xy, (lo[0], hi[0]), (lo[1], hi[1])))
    if not len(cand):
        return mask
    order = np.argsort(xy[cand, 1], kind="stable")
    cand = cand[order]
    px, py = xy[cand, 0].astype(np.float64), xy[cand, 1].astype(np.float64)
    inside = np.zeros(len(cand), dtype=bool)
    ends = np.roll(verts, -1, axis=0)  # edge k: verts[k] -> verts[k + 1], the last one closes the polygon
    for (x0, y0), (x1, y1) in zip(verts.tolist(), ends.tolist()):
        if y0 == y1:
            continue
        i, j = np.searchsorted(py, [min(y0, y1), max(y0, y1)], side="left")
        if i < j:
            cross = x0 + (py[i:j] - y0) * ((x1 - x0) / (y1 - y0))
            inside[i:j] ^= px[i:j] < cross
    mask[cand[inside]] = True
    return mask


def selection_rows(selection: Mapping[str, Any] | None, coords2d: np.ndarray | None = None) -> np.ndarray:
    """Dataset rows of a Streamlit Plotly selection (``st.session_state[key].selection``).

    Streamlit's selection holds ``points`` (each with the point's ``customdata``), ``box`` (a
    list of ``{"xref", "yref", "x": [x0, x1], "y": [y0, y1]}``) and ``lasso`` (a list of
    ``{"xref", "yref", "x": [...], "y": [...]}``, the polygon's vertices).

    Args:
        selection: the selection dict.
        coords2d: (N, 2) coordinates of every point of the map, row i = dataset row i. Give them
            when the figure draws only a sample (:func:`display_sample`): a box or lasso then
            selects every row inside the region(s) (union of all boxes and lassos), drawn or
            not. Without them, and for clicks, rows come from the selected points' customdata
            (:func:`selection_to_rows`).

    Returns:
        (M,) int64 rows: sorted for a region resolved on coordinates, in selection order otherwise.
    """
    kind = selection_kind(selection)
    if kind is None:
        return np.zeros(0, dtype=np.int64)
    if kind == "region" and coords2d is not None:
        xy = _check_coords2d(coords2d)
        inside = np.zeros(len(xy), dtype=bool)
        for b in selection.get("box") or []:
            if len(b.get("x", [])) == 2 and len(b.get("y", [])) == 2:
                inside |= _box_mask(xy, b["x"], b["y"])
        for la in selection.get("lasso") or []:
            inside |= _lasso_mask(xy, la.get("x", []), la.get("y", []))
        return np.flatnonzero(inside).astype(np.int64)
    return selection_to_rows(selection.get("points", []))


# ---- figures ---------------------------------------------------------------------------------
def embedding_figure(coords, rows, colors: dict, *, hover=None, title: str = "", height: int = 800,
                     marker_size: float | None = None, sample=None, density_bins: int = 256,
                     view=None) -> go.Figure:
    """WebGL scatter of a 2-D or 3-D map, one trace per colour group, rows in ``customdata``.

    Args:
        coords: (N, 2) or (N, 3) coordinates of every point of the map.
        rows: (N,) int dataset row of each point; stored as each point's customdata, so a click or
            lasso maps back with :func:`selection_to_rows` whatever the trace.
        colors: :func:`point_colors` output for the N points (categorical groups
            become traces with a legend; continuous values one trace with a colour bar).
        hover: hover line per point (optional): (N,) str, or (len(sample),) for the drawn points
            only (:func:`hover_texts` with ``rows=sample``).
        sample: (M,) int positions in 0..N-1 to draw (:func:`display_sample`), or
            None to draw all N. When M < N the figure says so, and a 2-D map gets, under the
            scatter, a greyscale density image of ALL N points (log counts on a grid of about
            `density_bins` square cells across its longer side, over the first view), so the
            regions the sample thins out still show, made clickable by an invisible point per
            cell of a coarser grid (:func:`density_picks`: a click there opens the real point
            nearest the cursor). Box and lasso
            selections on it must be resolved against every point on the server
            (:func:`selection_rows`), not through the drawn points.
        view: ((x0, x1), (y0, y1)): a 2-D map zoomed in to this box (its first view; `sample`
            holds points inside it): the density image and the legend's counts cover the points
            inside it. None: the whole map.
    """
    xy = np.asarray(coords, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int32)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3) or len(xy) != len(rows):
        raise ValueError(f"coords must be (N, 2|3) with N = len(rows) = {len(rows)}, got {xy.shape}")
    three = xy.shape[1] == 3
    n_all = len(xy)
    drawn = np.arange(n_all) if sample is None else np.asarray(sample, dtype=np.int64)
    if drawn.ndim != 1 or (len(drawn) and (drawn.min() < 0 or drawn.max() >= n_all)):
        raise ValueError(f"sample must be (M,) positions in [0, {n_all}), got shape {drawn.shape}")
    if view is not None and xy.shape[1] != 2:
        raise ValueError("a view (zoom) needs a 2-D map")
    view = None if view is None else _check_view(view)
    in_view = None if view is None else _box_mask(xy, *view)
    n_region = n_all if in_view is None else int(in_view.sum())
    sampled = len(drawn) < n_region
    hover = None if hover is None else np.asarray(hover)
    if hover is not None and len(hover) != len(drawn):
        if len(hover) != n_all:
            raise ValueError(f"hover must have {n_all} or {len(drawn)} items, got {len(hover)}")
        hover = hover[drawn]
    n = len(drawn)
    size = marker_size or (2 if three else 3 if n > 20000 else 4 if n > 5000 else 6)
    pts, prow = xy[drawn], rows[drawn]

    def trace(m, name, marker, showlegend=True):
        kw = dict(mode="markers", name=name, customdata=prow[m], marker=marker, showlegend=showlegend,
                  hovertemplate="%{text}<extra></extra>" if hover is not None else "row %{customdata}<extra></extra>")
        if hover is not None:
            kw["text"] = hover[m]
        if three:
            return go.Scatter3d(x=pts[m, 0], y=pts[m, 1], z=pts[m, 2], **kw)
        return go.Scattergl(x=pts[m, 0], y=pts[m, 1], selected=dict(marker=dict(size=size + 4)),
                            unselected=dict(marker=dict(opacity=0.3)), **kw)

    traces = []
    if not three:
        if view is not None:
            lo, hi = np.array([view[0][0], view[1][0]]), np.array([view[0][1], view[1][1]])
        else:  # the first view frames 99.8% of the points: a few far outliers would otherwise squeeze
            # the map into a corner (zoom out or double-click to see them)
            lo, hi = np.quantile(xy, [0.001, 0.999], axis=0) if n_all >= 500 else (xy.min(0), xy.max(0))
            pad = 0.04 * np.maximum(hi - lo, 1e-6)
            lo, hi = lo - pad, hi + pad
        if sampled:  # first traces: drawn under the points
            traces.append(density_trace(xy, lo, hi, bins=density_bins))
            picks = density_picks(xy, lo, hi)
            traces.append(go.Scattergl(
                x=xy[picks, 0], y=xy[picks, 1], mode="markers", customdata=rows[picks], meta=PICKS_META,
                name="under the shading", showlegend=False, marker=dict(size=size + 6, opacity=0, color="black"),
                selected=dict(marker=dict(opacity=1, size=size + 4)), unselected=dict(marker=dict(opacity=0)),
                hovertemplate="row %{customdata} (not drawn; nearest here)<extra></extra>"))
    if colors["kind"] == "categorical":
        codes_all = np.asarray(colors["codes"])
        codes = codes_all[drawn]
        total = np.bincount(codes_all if in_view is None else codes_all[in_view], minlength=len(colors["names"]))
        for c, (name, col) in enumerate(zip(colors["names"], colors["colors"])):
            m = np.flatnonzero(codes == c)
            if len(m):
                label = f"{name} ({total[c]:,}; {len(m):,} drawn)" if sampled else f"{name} ({len(m):,})"
                traces.append(trace(m, label, dict(color=col, size=size, opacity=0.75)))
    else:
        v = np.asarray(colors["values"], dtype=np.float32)[drawn]
        traces.append(trace(np.arange(n), colors.get("title", "value"), dict(
            color=v, size=size, opacity=0.8, colorscale="Viridis", showscale=True,
            colorbar=dict(title=colors.get("title", ""), thickness=12)), showlegend=False))
    fig = go.Figure(traces)
    axis = dict(showticklabels=False, title="", zeroline=False, showgrid=False)
    noted = sampled or view is not None
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=40 if title or noted else 30, b=0), title=title,
                      legend=dict(orientation="h", x=0, y=0, yanchor="top", itemsizing="constant"),
                      uirevision="embedding" if view is None else f"embedding {view}", plot_bgcolor="white",
                      hovermode="closest")
    if noted:
        where = "" if view is None else " in view"
        note = (f"showing {n:,} of {n_region:,} points{where} (stratified sample)" if sampled else
                f"showing all {n_region:,} points in view (of {n_all:,})")
        fig.add_annotation(text=note + ("" if three or not sampled else "; shading: all points"), xref="paper",
                           yref="paper", x=0, y=1, xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=12))
    if three:
        fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis))
    else:
        # dragmode and clickmode are left to Streamlit: pan + click-to-select, and box/lasso from the
        # chart's toolbar (Streamlit turns click-to-select off while box or lasso is the drag mode).
        fig.update_layout(xaxis=dict(axis, range=[float(lo[0]), float(hi[0])]),
                          yaxis=dict(axis, range=[float(lo[1]), float(hi[1])], scaleanchor="x", scaleratio=1))
    return fig


def density_picks(coords2d, lo, hi, *, bins: int = PICK_BINS) -> np.ndarray:
    """Rows that make the density shading clickable: in each non-empty square cell of a grid of
    about `bins` cells across the box [lo, hi]'s longer side, the point nearest the cell's centre.

    Plotly and Streamlit report no click on a heatmap, so a sampled map draws these points
    invisibly at their own coordinates (:data:`PICKS_META`): a click on the shading selects the
    real point nearest the cursor within a cell (a drawn point under the cursor is nearer, and wins).

    Returns:
        (M,) int64 positions in 0..N-1, one per non-empty cell (M <= bins^2), in cell order.
    """
    xy = np.asarray(coords2d, dtype=np.float64)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    cell = np.maximum(hi - lo, 1e-9).max() / max(int(bins), 1)
    nx, ny = (int(v) for v in np.maximum(np.ceil(np.maximum(hi - lo, 1e-9) / cell), 1))
    ij = np.floor((xy - lo) / cell)
    ok = np.flatnonzero((ij[:, 0] >= 0) & (ij[:, 0] < nx) & (ij[:, 1] >= 0) & (ij[:, 1] < ny))
    if not len(ok):
        return np.zeros(0, np.int64)
    ij = ij[ok].astype(np.int64)
    cid = ij[:, 1] * nx + ij[:, 0]
    d = (((xy[ok] - lo) / cell - ij - 0.5) ** 2).sum(1)  # squared distance to the cell's centre, in cells
    nearest = np.full(nx * ny, np.inf)
    np.minimum.at(nearest, cid, d)  # O(N): 7 ms at 1M, where a sort took 0.3 s
    cand = np.flatnonzero(d == nearest[cid])
    _, first = np.unique(cid[cand], return_index=True)  # one per cell (the lowest row on a tie)
    return ok[cand[first]].astype(np.int64)


def density_trace(coords2d, lo, hi, *, bins: int = 256, name: str = "all points") -> go.Heatmap:
    """Greyscale image of how many points fall in each square cell of the box [lo, hi].

    Counts are log-scaled (log1p) and quantised to 0..255 (uint8: a 256x256 image is about
    90 kB of JSON); empty cells are transparent. No hover, no legend, and heatmaps are not
    selectable in Plotly, so clicks, boxes and lassos still reach the scatter drawn over it.

    Args:
        coords2d: (N, 2) coordinates of every point (those outside [lo, hi] are not counted).
        lo, hi: (2,) lower-left and upper-right corners of the imaged box.
        bins: cells across the box's longer side (cells are square).
    """
    xy = np.asarray(coords2d)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    span = np.maximum(hi - lo, 1e-9)
    cell = span.max() / max(int(bins), 1)
    nx, ny = (int(v) for v in np.maximum(np.ceil(span / cell), 1))
    counts, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=(nx, ny),
                                  range=[[lo[0], lo[0] + nx * cell], [lo[1], lo[1] + ny * cell]])
    z = np.log1p(counts.T)  # (ny, nx): rows are y
    z = np.round(255 * z / max(float(z.max()), 1e-12)).astype(np.uint8)
    return go.Heatmap(z=z, x0=float(lo[0] + cell / 2), dx=float(cell), y0=float(lo[1] + cell / 2), dy=float(cell),
                      zmin=0, zmax=255, colorscale=[[0, "rgba(60,60,60,0)"], [1 / 255, "rgba(60,60,60,0.08)"],
                                                    [1, "rgba(60,60,60,0.55)"]],
                      showscale=False, hoverinfo="skip", showlegend=False, name=name, zsmooth=False)


def neighbour_confusion_figure(confusion, classes, *, title: str = "") -> go.Figure:
    """Heatmap of how nearest neighbours are labeled: row = class of the image, column = label
    of its neighbours (rows sum to 1; the diagonal is the kNN label agreement)."""
    z = np.asarray(confusion, dtype=float)
    text = [[f"{v:.0%}" if np.isfinite(v) else "" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=list(classes), y=list(classes), text=text, texttemplate="%{text}",
                               colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title="share", thickness=12),
                               hovertemplate="%{y} images: %{text} of their neighbours are %{x}<extra></extra>"))
    fig.update_layout(height=110 + 40 * len(classes), margin=dict(l=10, r=10, t=90 if title else 60, b=10),
                      title=dict(text=title, y=0.98, yanchor="top"), xaxis=dict(title="neighbour's label", side="top"),
                      yaxis=dict(title="image's label", autorange="reversed"))
    return fig
