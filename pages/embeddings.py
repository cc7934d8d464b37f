"""Embeddings: UMAP / t-SNE / PCA map of a model's features; click a face, lasso a group, numbers."""

from dashboard import ui
from dashboard.panels import class_separation
from dashboard.panels import embeddings as panels

import streamlit as st

from fer_core.analysis import embed
from fer_core.config import ProjectionConfig
from fer_core.figures import embeddings as emb_figs

METHODS = {"UMAP": "umap", "t-SNE": "tsne", "PCA": "pca"}

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

if not ui.artifact_cached("predictions", ds, model=model):
    ui.run_with_progress("Running the model over every image...", ui.compute_artifact, name="predictions", ds=ds,
                         model=model)
if not ui.artifact_cached("projection", ds, model=model, config=cfg):
    data, ferplus = ui.source_files(ds)
    if len(ds) > panels.AUTO_POINTS and not st.button(f"Compute this {cfg.method} map now ({len(ds):,} points: up "
                                                      "to a few minutes on a 2-core CPU)", icon=":material/play_arrow:"):
        st.info("This map is not built yet. Build it here, or from the repository root with "
                "(`python -m fer_core.prepare` builds the default UMAP and t-SNE maps):")
        st.code(embed.command(cfg, model=model, data=data, ferplus=ferplus), language="bash")
        st.stop()
    ui.run_with_progress(f"Computing the {cfg.method} map...", ui.compute_artifact, name="projection", ds=ds,
                         model=model, config=cfg)

pred = ui.artifact("predictions", ds, model=model)
color_by = c[3].selectbox("Color by", emb_figs.available_colorings(ds, pred["classes"]),
                          format_func=emb_figs.COLOR_BY.get)
panels.map_fit_note(ds, model, cfg)
panels.explorer(ds, model, cfg, color_by, pred)


# Lazy: computed, sent and drawn only while open (the map above is what a new tab paints first).
sep = st.expander("How well the classes separate in feature space: silhouettes, kNN label agreement, "
                  "neighbour confusion", key="emb_sep_open", on_change="rerun", icon=":material/hub:")
if sep.open:
    with sep:
        class_separation.class_separation(ds, model)
