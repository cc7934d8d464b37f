"""The Embeddings page's class-separation panel: silhouettes, kNN label agreement and the
neighbour confusion of a model's features, with what they were computed on."""
from __future__ import annotations

import streamlit as st

from dashboard import ui
from dashboard.panels.embeddings import AUTO_POINTS
from fer_core.analysis import embed
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS
from fer_core.figures import embeddings as emb_figs


def class_separation(ds, model) -> None:
    """Silhouettes, kNN label agreement and the neighbour confusion of the model's features."""
    if (len(ds) > AUTO_POINTS and not ui.artifact_cached("feature_stats", ds, model=model)
            and not st.session_state.get("emb_stats_on")):
        if st.button("Compute neighbours and silhouettes (about a minute on the full FER2013)"):
            st.session_state["emb_stats_on"] = True
            st.rerun()
        return
    stats = ui.artifact("feature_stats", ds, model=model)
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
    left.plotly_chart(emb_figs.neighbour_confusion_figure(agr["confusion"], names,
                                                          title=f"How the {k} nearest neighbours are labeled"))
    right.markdown(f"Each row: how the {k} nearest neighbours (feature space) of that class's images are labeled; "
                   "the diagonal is the kNN label agreement. *Most confused with* is the row's largest other cell, "
                   "next to that class's share of all images (chance): the map's \"fear sits inside sad\" becomes "
                   "\"x % of fear's neighbours are sad, against y % sad images overall\". "
                   + sampling_note(stats, label_set))


def sampling_note(stats, label_set: str) -> str:
    """What the class-separation numbers were computed on: the silhouettes' stratified sample and
    whether the neighbours are exact or approximate (datasets above the exact-search limit)."""
    n_sil = stats.get(f"silhouette_{label_set}_n")
    n_lab = stats.get(f"silhouette_{label_set}_labeled")
    sil = (f"Silhouettes use a class-stratified sample of {int(n_sil):,} of the {int(n_lab):,} labeled images"
           if n_sil is not None and n_lab is not None and int(n_sil) < int(n_lab) else
           "Silhouettes use every labeled image" if n_sil is not None else
           "Silhouettes use a stratified sample of up to 10,000 labeled images")
    exact = bool(stats.get("knn_exact", True))
    return sil + ("; kNN agreement uses all of them." if exact else
                  "; kNN agreement uses all of them, with approximate nearest neighbours (NN-descent, recall about "
                  "0.99 against the exact ones) on a dataset this large.")
