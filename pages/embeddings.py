"""Embeddings: UMAP / t-SNE / PCA map of a model's features; click a face, lasso a group, numbers."""

from dashboard import ui

import streamlit as st

from fer_core.analysis import embed
from fer_core.figures import embeddings as figures
from fer_core.figures import face as face_figs
from fer_core.config import ProjectionConfig
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS

#: Maps of datasets up to this size are computed on the page without asking (seconds).
AUTO_POINTS = 5000
METHODS = {"UMAP": "umap", "t-SNE": "tsne", "PCA": "pca"}
N_NEIGHBOURS = 8


def _on_select(key: str, ds, model, cfg) -> None:
    """Chart selection changed: a click sets the shown row, a box/lasso the gallery (on a sampled
    map, every row inside the region, drawn or not)."""
    sel = st.session_state[key].selection
    kind, rows = embed.selection_kind(sel), ui.embedding_selection(ds, model, cfg, sel)
    if kind == "click" and len(rows):
        st.session_state["selected_row"] = int(rows[0])
    elif kind == "region":
        st.session_state["emb_region"] = rows


def _show_row(i: int) -> None:
    st.session_state["selected_row"] = int(i)


def side_panel(ds, pred, i) -> None:
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
        nbrs = embed.nearest_neighbors(pred["features"], i, k=N_NEIGHBOURS)
        for start in range(0, len(nbrs), 4):
            for col, j in zip(st.columns(4), nbrs[start:start + 4]):
                with col:
                    ui.show_face(ds.images[j], scale=2, caption=ui.label_name(int(ds.labels[j])))
                    st.button(f"#{j}", key=f"emb_nb_{j}", on_click=_show_row, args=(j,), width="stretch")


@st.fragment
def explorer(ds, model, cfg, color_by, pred) -> None:
    """The scatter and the panels it drives; a click reruns only this fragment (the scatter goes
    to the browser again as a cached-message reference, not as data)."""
    left, right = st.columns([1.85, 1])
    key = "emb_chart_" + "_".join(str(v) for v in (model, color_by, *cfg.to_dict().values()))
    with left:
        st.plotly_chart(ui.embedding_figure(ds, model, cfg, color_by), key=key,
                        on_select=lambda: _on_select(key, ds, model, cfg),
                        selection_mode=("points", "box", "lasso"), config={"scrollZoom": True})
        sample = ui.drawn_sample(ds)
        st.caption("Hover for label and prediction; click a point to inspect it; lasso or box to select "
                   "a group (drag mode in the chart's toolbar); scroll to zoom; double-click to reset."
                   + (" In 3-D: drag to rotate; clicking and selecting work in the 2-D map." if cfg.dims == 3 else "")
                   + ("" if sample is None else
                      f" **{len(sample):,} of {len(ds):,} points are drawn** (a class-stratified sample: every "
                      f"class keeps at least {embed.MIN_PER_CLASS}, or all it has); "
                      + ("the grey shading counts all of them, and a box or lasso selects every image inside "
                         "it, drawn or not." if cfg.dims == 2 else "in 3-D there is no shading.")))
    with right:
        side_panel(ds, pred, st.session_state.get("selected_row"))
    region = st.session_state.get("emb_region")
    if region is None or not len(region):
        return
    st.subheader(f"{len(region):,} selected images")
    sel = embed.selection_table(ds, region, probs=pred["probs"], classes=pred["classes"])
    c1, c2, c3 = st.columns([3, 1.2, 1])
    c1.markdown(" · ".join(f"{k} **{v}**" for k, v in sel["label"].value_counts().items()))
    c2.download_button("Download row indices (CSV)", sel.to_csv(index=False), file_name="embedding_selection.csv",
                       mime="text/csv", icon=":material/download:")
    c3.button("Clear selection", icon=":material/close:", on_click=st.session_state.pop, args=("emb_region", None))
    shown = region[:144]
    caps, cols = ui.grid_captions(ds, shown)
    ui.show_grid(ds.images[shown], cols=16, scale=2, captions=caps, caption_colors=cols)
    if len(region) > len(shown):
        st.caption(f"Showing the first {len(shown)} of {len(region):,}; the CSV has all of them.")


def class_separation(ds, model) -> None:
    """Silhouettes, kNN label agreement and the neighbour confusion of the model's features."""
    if len(ds) > AUTO_POINTS and not ui.feature_stats_cached(ds, model) and not st.session_state.get("emb_stats_on"):
        if st.button("Compute neighbours and silhouettes (about a minute on the full FER2013)"):
            st.session_state["emb_stats_on"] = True
            st.rerun()
        return
    stats = ui.feature_stats(ds, model)
    sets = {"FER2013 labels": ("fer2013", ds.labels)}
    if ds.ferplus is not None:
        sets["FER+ majority"] = ("ferplus", ds.ferplus.majority)
    label_set, y = sets[st.radio("Labels", list(sets), horizontal=True, key="emb_stats_labels")]
    table, agr = embed.class_separation_table(stats, y, label_set=label_set)
    k = stats["neighbors"].shape[1]
    m = st.columns(3)
    m[0].metric("Silhouette (all classes)", f"{float(stats[f'silhouette_{label_set}_overall']):.3f}",
                help="Mean over images of (b - a) / max(a, b): a = mean distance to the own class, b = to the "
                     "nearest other class. 1 = tight separate classes, 0 = overlapping.")
    m[1].metric(f"kNN label agreement (k={k})", f"{float(agr['overall']):.1%}",
                help=f"Share of each image's {k} nearest neighbours (Euclidean, feature space) with its label.")
    if top := embed.strongest_confusion(table):
        m[2].metric("Strongest confusion (classes of 30+ images)", f"{top[0]} → {top[1]}",
                    f"{top[2]:.1%} of its neighbours", delta_color="off", delta_arrow="off")
    st.dataframe(table.style.format({"silhouette": "{:.3f}", "kNN agreement": "{:.1%}", "share of neighbours": "{:.1%}",
                                     "that class overall": "{:.1%}"}, na_rep="—"), width="stretch")
    left, right = st.columns([1.3, 1])
    names = FERPLUS_EMOTIONS if label_set == "ferplus" else FER2013_EMOTIONS
    left.plotly_chart(figures.neighbour_confusion_figure(agr["confusion"], names,
                                                         title=f"How the {k} nearest neighbours are labeled"))
    right.markdown(f"Each row: how the {k} nearest neighbours (feature space) of that class's images are labeled; "
                   "the diagonal is the kNN label agreement. *Most confused with* is the row's largest other cell, "
                   "next to that class's share of all images (chance): the map's \"fear sits inside sad\" becomes "
                   "\"x % of fear's neighbours are sad, against y % sad images overall\". Silhouettes use a "
                   "stratified sample of up to 10,000 labeled images; kNN agreement uses all of them.")


st.title("Embeddings")
st.caption("Every image's penultimate-layer features, mapped to 2-D or 3-D. Neighbouring points look alike "
           "to the model: mixed colours show which classes it confuses, with the figures below.")
ds = ui.current_dataset()
models = ui.require_models()

c = st.columns([1.1, 1.3, 0.8, 1.3])
model = c[0].selectbox("Model", models, help="Features: the layer before the classifier (global average pool).")
method = METHODS[c[1].segmented_control("Map", list(METHODS), default="UMAP", required=True)]
dims = c[2].segmented_control("Dimensions", [2, 3], default=2, required=True)
d = ProjectionConfig()
with st.expander("Map settings", icon=":material/tune:"):
    e = st.columns(5)
    perplexity = e[0].slider("t-SNE perplexity", 5.0, 100.0, d.perplexity, 5.0, disabled=method != "tsne")
    n_neighbors = e[1].slider("UMAP n_neighbors", 2, 200, d.n_neighbors, disabled=method != "umap")
    min_dist = e[2].slider("UMAP min_dist", 0.0, 0.99, d.min_dist, 0.05, disabled=method != "umap")
    pca_dims = e[3].select_slider("PCA components first", [0, 10, 20, 30, 50, 100], d.pca_dims,
                                  disabled=method == "pca", help="0 = the raw features")
    seed = e[4].number_input("Seed", 0, 2**31 - 1, d.seed)
cfg = ProjectionConfig(method=method, dims=int(dims), perplexity=float(perplexity), n_neighbors=int(n_neighbors),
                       min_dist=float(min_dist), pca_dims=int(pca_dims), seed=int(seed))

if not ui.features_cached(ds, model):
    ui.run_with_progress("Running the model over every image...", embed.get_features, ds=ds, model=model, store=ui.store())
if not ui.projection_cached(ds, model, cfg):
    data, ferplus = ui.source_files(ds)
    if len(ds) > AUTO_POINTS and not st.button(f"Compute this {cfg.method} map now ({len(ds):,} points: up to a few "
                                               "minutes on a 2-core CPU)", icon=":material/play_arrow:"):
        st.info("This map is not built yet. Build it here, or from the repository root with "
                "(`python -m fer_core.prepare` builds the default UMAP and t-SNE maps):")
        st.code(embed.command(cfg, model=model, data=data, ferplus=ferplus), language="bash")
        st.stop()
    ui.run_with_progress(f"Computing the {cfg.method} map...", embed.get_projection, ds=ds, config=cfg, model=model,
                         store=ui.store())

pred = ui.predictions(ds, model)
color_by = c[3].selectbox("Color by", embed.available_colorings(ds, pred["classes"]), format_func=embed.COLOR_BY.get)
explorer(ds, model, cfg, color_by, pred)


# Lazy: computed, sent and drawn only while open (the map above is what a new tab paints first).
sep = st.expander("How well the classes separate in feature space: silhouettes, kNN label agreement, "
                  "neighbour confusion", key="emb_sep_open", on_change="rerun", icon=":material/hub:")
if sep.open:
    with sep:
        class_separation(ds, model)
