"""The Embeddings page's map panels: the map and what a click or a lasso on it opens (the
class-separation numbers are in :mod:`dashboard.panels.class_separation`). The map itself is composed
in :mod:`fer_core.figures.embeddings`."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import ui
from fer_core.analysis import embed
from fer_core.constants import FER2013_EMOTIONS
from fer_core.figures import embeddings as emb_figs
from fer_core.figures import face as face_figs

#: Maps and neighbour statistics of datasets up to this size are computed on the page without asking.
AUTO_POINTS = 5000
N_NEIGHBOURS = 8
MAP_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}


@st.cache_resource(show_spinner=False, max_entries=6, hash_funcs=ui.HASH_FUNCS)
def map_figure(ds, model: str, config, color_by: str, max_points: int, view=None):
    """(figure, :class:`~fer_core.figures.embeddings.MapDraw`) of the map: the whole map, or zoomed
    in to `view` ((x0, x1), (y0, y1)) with the points inside it drawn. Built once per data, model,
    map, colouring, drawing limit and view, and shared by every session: do not mutate it."""
    coords = ui.artifact("projection", ds, model=model, config=config, spinner=False)["coords"]
    pred = ui.artifact("predictions", ds, model=model, spinner=False)
    draw = emb_figs.map_draw(ds.labels, coords, max_points=max_points, view=view)
    fig = emb_figs.embedding_map(ds, coords, color_by=color_by, probs=pred["probs"], classes=pred["classes"],
                                 draw=draw)
    return fig, draw


@ui.cache_data(show_spinner=False, max_entries=8)
def region_rows(ds, model: str, config, boxes: tuple, lassos: tuple) -> np.ndarray:
    """(M,) sorted rows of every point inside the boxes and lassos (their union) of a 2-D map, drawn
    or not (:func:`fer_core.figures.embeddings.selection_rows` on every point's coordinates). Keyed on
    the shapes alone, not on the thousands of drawn points a selection also lists."""
    coords = ui.artifact("projection", ds, model=model, config=config, spinner=False)["coords"]
    return emb_figs.selection_rows({"box": list(boxes), "lasso": list(lassos)}, coords)


def selected_rows(ds, model: str, config, selection) -> np.ndarray:
    """Dataset rows of a selection on :func:`map_figure`: a click through the point's customdata; a
    box or lasso on a 2-D map: every row inside it, drawn or not (:func:`region_rows`)."""
    kind = emb_figs.selection_kind(selection)
    if kind == "region" and config.dims == 2:
        def shapes(k):
            return tuple({"x": [float(v) for v in r.get("x", [])], "y": [float(v) for v in r.get("y", [])]}
                         for r in selection.get(k) or [])
        return region_rows(ds, model, config, shapes("box"), shapes("lasso"))
    return emb_figs.selection_rows(selection)  # clicks (and 3-D): through the points' customdata


def _on_select(key: str, ds, model, cfg) -> None:
    """Chart selection changed: a click sets the shown row, a box/lasso the gallery and the current
    selection (shared by every page)."""
    sel = st.session_state[key].selection
    kind, rows = emb_figs.selection_kind(sel), selected_rows(ds, model, cfg, sel)
    if kind == "click" and len(rows):
        st.session_state["selected_row"] = int(rows[0])
    elif kind == "region":
        st.session_state["emb_region"], st.session_state["emb_region_map"] = rows, key
        shape = "lasso" if sel.get("lasso") else "box"
        shared = ui.set_selection(ds, rows, f"{shape} on {MAP_NAMES.get(cfg.method, cfg.method)} map")
        st.session_state["emb_region_source"] = shared.source  # what "Clear selection" may clear
        st.session_state["_emb_rerun_app"] = True  # the sidebar's selection summary is outside this fragment


def _clear_region(ds) -> None:
    """The region's "Clear selection": its gallery, and the current selection (sidebar) when it is still
    the one this region set (not one chosen on another page since)."""
    region = st.session_state.pop("emb_region", None)
    source = st.session_state.pop("emb_region_source", None)
    shared = ui.current_selection(ds)
    if (shared is not None and source is not None and shared.source == source and region is not None
            and np.array_equal(shared.indices, np.asarray(region))):
        ui.clear_selection()
    st.session_state["_emb_rerun_app"] = True  # the sidebar shows the cleared selection


def _zoom(key: str, view) -> None:
    st.session_state["emb_view"] = {"map": key, "view": view}


def map_view(key: str):
    """The view ((x0, x1), (y0, y1)) the map `key` is zoomed in to, or None (the whole map); a view
    of another map (method, settings, model, colouring) is dropped."""
    v = st.session_state.get("emb_view")
    if v is not None and v.get("map") != key:
        st.session_state.pop("emb_view", None)
        return None
    return None if v is None else v["view"]


def map_key(model: str, color_by: str, config) -> str:
    """The widget key of the map of `model` coloured by `color_by` with ProjectionConfig `config`."""
    return "emb_chart_" + "_".join(str(v) for v in (model, color_by, *config.to_dict().values()))


def _show_row(i: int) -> None:
    st.session_state["selected_row"] = int(i)


@ui.cache_data(show_spinner=False, max_entries=64)
def _neighbours(ds, model: str, i: int) -> np.ndarray:
    """Row `i`'s nearest neighbours in `model`'s feature space
    (:func:`fer_core.analysis.embed.nearest_neighbors`): a scan of every row's features (0.2 s at
    1M x 8), done once per row rather than on every rerun of the panel."""
    feats = ui.artifact("predictions", ds, model=model, spinner=False)["features"]
    return embed.nearest_neighbors(feats, i, k=N_NEIGHBOURS)


def side_panel(ds, pred, i, *, model: str) -> None:
    """The clicked image: face, probabilities, FER+ votes and nearest neighbours in the feature space
    of `model` (whose predictions `pred` is)."""
    if i is None or not 0 <= i < len(ds):
        st.info("Click a point to see its face, its predicted probabilities, its FER+ votes and its "
                "nearest neighbours in feature space.", icon=":material/touch_app:")
        return
    with st.container(key="emb_panel"):
        st.subheader(f"Image #{i}")
        d = ui.describe(ds, i)
        a, b = st.columns([1, 1.25])
        with a:
            ui.show_face(ds.images[i], scale=4)
        with b:
            k = int(pred["probs"][i].argmax())
            st.markdown(f"source row **{d['source row']}** · {d['split']}  \n"
                        f"label **{d['FER2013 label']}**  \npredicted **{pred['classes'][k]}** "
                        f"({pred['probs'][i, k]:.0%})" + (f"  \nFER+ **{d['FER+ majority']}** ({d['FER+ vs FER2013']})"
                                                         if ds.ferplus is not None else ""))
        lab = int(ds.labels[i]) if tuple(pred["classes"]) == FER2013_EMOTIONS else -1
        st.altair_chart(face_figs.class_probs_chart(pred["probs"][i], pred["classes"], label=lab, step=18),
                        key=f"emb_probs_{i}")
        if ds.ferplus is not None:
            st.altair_chart(ui.votes_chart(ds, i), key=f"emb_votes_{i}")
        st.markdown(f"**{N_NEIGHBOURS} nearest neighbours** in feature space (click one to show it)")
        nbrs = _neighbours(ds, model, i)
        for start in range(0, len(nbrs), 4):
            for col, j in zip(st.columns(4), nbrs[start:start + 4]):
                with col:
                    # the row number in the caption (it wraps), not on the button: 7 digits did not fit at 1280 px
                    ui.show_face(ds.images[j], scale=2, caption=f"#{j} {ui.label_name(int(ds.labels[j]))}")
                    st.button("Show", key=f"emb_nb_{j}", on_click=_show_row, args=(j,), width="stretch",
                              help=f"Show image #{j} here")


@ui.cache_data(show_spinner=False, max_entries=8)
def _gallery(ds, model: str, region: np.ndarray, scored: bool):
    """The faces a region's gallery shows and their order in words (a million rows: ~0.5 s, once)."""
    scores = ui.artifact("label_errors", ds, model=model, spinner=False)["score_ensemble"] if scored else None
    return emb_figs.selection_gallery(region, ds.labels, scores=scores)


def _map_caption(cfg, draw) -> str:
    """How to use the map, and what it draws (:meth:`~fer_core.figures.embeddings.MapDraw.summary`)."""
    what = draw.summary()
    text = ("Hover for label and prediction; click a point to inspect it; lasso or box to select a group (drag "
            "mode in the chart's toolbar); scroll to zoom; double-click to reset."
            + (" In 3-D: drag to rotate; clicking and selecting work in the 2-D map." if cfg.dims == 3 else "")
            + f" **{what[0].upper() + what[1:]}**")
    if draw.sampled:
        text += f" (every class keeps at least {emb_figs.MIN_PER_CLASS}, or all it has)"
        if cfg.dims == 3:
            return text + "; in 3-D there is no shading."
        text += ("; a click on the shading opens the image nearest the cursor, and a box or lasso selects every "
                 "image inside it, drawn or not")
        return text + (", and **Zoom to the selection** then draws its points one by one." if draw.view is None
                       else ".")
    return text + ("; outside the view nothing is drawn." if draw.view is not None else ".")


@st.fragment
def explorer(ds, model, cfg, color_by, pred) -> None:
    """The scatter and the panels it drives; a click reruns only this fragment (the scatter goes
    to the browser again as a cached-message reference, not as data). `pred` is the shared
    predictions artifact (read-only), so a session keeps no copy of it."""
    if st.session_state.pop("_emb_rerun_app", False):
        st.rerun()  # a box or lasso set the current selection: the whole app shows it
    left, right = st.columns([1.85, 1])
    key = map_key(model, color_by, cfg)
    view = map_view(key) if cfg.dims == 2 else None
    with left:
        fig, draw = map_figure(ds, model, cfg, color_by, emb_figs.MAX_DRAWN_POINTS, view)
        st.plotly_chart(fig, key=key, on_select=lambda: _on_select(key, ds, model, cfg),
                        selection_mode=("points", "box", "lasso"), config={"scrollZoom": True})
        st.caption(_map_caption(cfg, draw))
        if view is not None:
            st.button("Whole map", icon=":material/zoom_out_map:", key="emb_unzoom",
                      on_click=st.session_state.pop, args=("emb_view", None),
                      help="Back to the whole map: a sample of its points over the density of all of them")
    with right:
        side_panel(ds, pred, st.session_state.get("selected_row"), model=model)
    if st.session_state.get("emb_region_map", key) != key:  # drawn on another map (method, its settings, model,
        st.session_state.pop("emb_region", None)             # colouring): that map and its box are gone
    if "emb_region_source" in st.session_state and ui.current_selection(ds) is None:
        st.session_state.pop("emb_region", None)  # the sidebar's Clear cleared the selection this region set
        st.session_state.pop("emb_region_source", None)
    region = st.session_state.get("emb_region")
    if region is None or not len(region):
        return
    st.subheader(f"{len(region):,} selected images")
    c1, c2, c3 = st.columns([2.4, 1.6, 1])  # the download label whole at 1280 px
    c1.markdown(" · ".join(f"{k} **{v:,}**" for k, v in emb_figs.label_counts(ds.labels, region)))
    # the CSV is written when the button is pressed (a million rows take seconds), not on every rerun
    c2.download_button("Download row indices (CSV)", lambda: emb_figs.selection_table(
        ds, region, probs=pred["probs"], classes=pred["classes"]).to_csv(index=False),
        file_name="embedding_selection.csv", mime="text/csv", icon=":material/download:")
    c3.button("Clear selection", icon=":material/close:", on_click=_clear_region, args=(ds,), key="emb_clear",
              help="Clears this gallery and the current selection in the sidebar (when it is still this one)")
    if cfg.dims == 2 and (draw.sampled or view is not None):
        coords = ui.artifact("projection", ds, model=model, config=cfg, spinner=False)["coords"]
        target = emb_figs.selection_view(coords, region)
        if target != view:
            st.button("Zoom to the selection", icon=":material/zoom_in:", key="emb_zoom", on_click=_zoom,
                      args=(key, target), help="Frame the selected region and draw its points one by one (up to "
                                               f"{emb_figs.MAX_DRAWN_POINTS:,}, else a sample over their density)")
    scored = ui.artifact_cached("label_errors", ds, model=model)  # rankings from the Label errors page, if built
    shown, how = _gallery(ds, model, region, scored)
    counts = emb_figs.label_counts(ds.labels, shown)
    st.caption(f"{how}: " + " · ".join(f"{k} {v:,}" for k, v in counts)
               + (". The CSV has all of them." if len(shown) < len(region) else "."))
    caps, cols = ui.grid_captions(ds, shown)
    per_row = 16 if len(ds) < 100_000 else 12  # 6- and 7-digit indices: wider faces, so their captions fit
    picked = ui.show_grid(ds.images[shown], cols=per_row, scale=2, captions=caps, caption_colors=cols, ids=shown,
                          key="emb_sel_grid")
    if picked is not None:
        ui.open_card(ds, picked, model=model)


def map_fit_note(ds, model: str, cfg) -> None:
    """A caption under the map settings when the map was fitted on a sample of a large dataset
    ("fitted on 50,000 of 350,000 faces, the rest placed by transform")."""
    note = embed.fit_note(ui.artifact("projection", ds, model=model, config=cfg, spinner=False), len(ds))
    if note:
        st.caption(note)
