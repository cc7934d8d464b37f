"""Eigenfaces: mean faces, principal components overall and per emotion, reconstructions."""

from dashboard import ui

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from fer_core.data import images as fimg
from fer_core.figures import data as data_figs
from fer_core.config import PCAConfig
from fer_core.constants import FER2013_EMOTIONS
from fer_core.analysis.eigenfaces import components_for, reconstruct, select_split


def mean_difference_figure(diffs, names) -> go.Figure:
    """One heatmap per class mean minus the overall mean, on a shared diverging scale."""
    lim = float(max(np.abs(d).max() for d in diffs)) or 1.0
    ax = [str(j + 1) if j else "" for j in range(len(diffs))]
    fig = go.Figure([go.Heatmap(z=d[::-1], zmin=-lim, zmax=lim, colorscale="RdBu_r", showscale=(j == 0),
                                xaxis=f"x{a}", yaxis=f"y{a}") for j, (d, a) in enumerate(zip(diffs, ax))])
    dom = np.linspace(0, 1, len(diffs) + 1)
    for j, a in enumerate(ax):
        fig.update_layout({f"xaxis{a}": dict(domain=[dom[j] + 0.005, dom[j + 1] - 0.005], visible=False,
                                             constrain="domain", constraintoward="center"),
                           f"yaxis{a}": dict(visible=False, scaleanchor=f"x{a}", constrain="domain")})
        fig.add_annotation(text=names[j], x=0.5, y=1.12, xref=f"x{a} domain", yref="paper", showarrow=False)
    fig.update_layout(height=220, margin=dict(l=0, r=0, t=30, b=0))
    return fig


st.title("Eigenfaces")
ds = ui.current_dataset()
cfg = PCAConfig()
try:
    e = ui.artifact("eigenfaces", ds)
except ValueError as err:  # e.g. fewer than 2 images
    st.error(f"Cannot compute eigenfaces for this data: {err}")
    st.stop()
n_fit = int(select_split(ds.split, cfg.split).sum())
K = len(e["components"])
k90 = components_for(e["explained_variance_ratio"], 0.9)
fitted_on = f"the {cfg.split} split" if (ds.split == cfg.split).any() else "all images"
st.caption(f"PCA of {fitted_on} ({n_fit:,} images, pixels scaled to [0, 1]); {K} components kept "
           f"overall and {cfg.n_components_per_class} per emotion. "
           + (f"Each PCA (and the overall mean face) is fitted on a random sample of at most {cfg.fit_sample:,} "
              "images; the mean face of each emotion uses all of its images. " if n_fit > cfg.fit_sample else "")
           + "`python -m fer_core.prepare` builds the same artifact.")

st.subheader("Mean faces")
counts = e["class_counts"]
present = [c for c in range(len(FER2013_EMOTIONS)) if counts[c] > 0]
ui.show_grid(np.stack([e["mean"]] + [e["class_means"][c] for c in present]), cols=8, scale=3, font_size=13,
             captions=[f"all ({n_fit:,})"] + [f"{FER2013_EMOTIONS[c]} ({counts[c]:,})" for c in present])
if present:
    # Lazy: drawn only while open, so the page's first paint does not wait for Plotly's bundle.
    diff = st.expander("Difference from the overall mean (red: brighter than average, blue: darker)",
                       key="eig_diff_open", on_change="rerun")
    if diff.open:
        with diff:
            st.plotly_chart(mean_difference_figure([e["class_means"][c] - e["mean"] for c in present],
                                                   [FER2013_EMOTIONS[c] for c in present]), key="eig_diff")

st.subheader("Eigenfaces")
left, right = st.columns([1, 3])
who = left.selectbox("Fitted on", ["all emotions"] + [FER2013_EMOTIONS[c] for c in present],
                     help="Per-emotion PCA uses only that class's images of the fitting split.")
if who == "all emotions":
    comps, evr = e["components"], e["explained_variance_ratio"]
else:
    c = FER2013_EMOTIONS.index(who)
    comps, evr = e["class_components"][c], e["class_evr"][c]
n_show = left.slider("Components shown", 4, min(32, len(comps)), min(16, len(comps)), step=4)
left.caption("Mid-grey is 0; light and dark areas vary together along the component. The sign of a "
             "component is arbitrary.")
with right:
    if not evr.any():
        st.info(f"Too few {who} images to fit a per-emotion PCA.")
    else:
        ui.show_grid(np.stack([fimg.signed_to_unit(x) for x in comps[:n_show]]), cols=8, scale=2,
                     captions=[f"PC{j + 1}  {evr[j]:.1%}" for j in range(n_show)])

st.subheader("Explained variance")
cum = np.cumsum(e["explained_variance_ratio"])
curves = {"all emotions": e["explained_variance_ratio"]}
if who != "all emotions" and evr.any():
    curves[who] = evr
st.altair_chart(data_figs.explained_variance_chart(curves, target=0.9, k_target=k90), key="eig_cum")
if not k90:
    st.caption(f"The {K} kept components explain {cum[-1]:.1%}: fewer than needed for 90%.")


@st.fragment
def reconstruction():
    st.subheader("Reconstruction")
    c = st.columns([1, 2, 3])
    i = int(c[0].number_input(f"Dataset index (0–{len(ds) - 1:,})", 0, len(ds) - 1, 0))
    k = int(c[1].slider("Components k", 1, K, min(k90 or 50, K)))
    meta = ui.describe(ds, i)
    c[2].markdown(f"source row **{meta['source row']}** · {meta['split']} · FER2013 **{meta['FER2013 label']}**"
                  + (f" · FER+ **{meta['FER+ majority']}**" if "FER+ majority" in meta else ""))
    rec = reconstruct(ds.images[i], e["mean"], e["components"], k)
    orig = ds.images[i].astype(np.float32) / 255
    rmse = float(np.sqrt(np.mean((rec - orig) ** 2)))
    ui.show_grid(np.stack([orig, rec, np.clip(3 * np.abs(rec - orig), 0, 1)]), cols=3, scale=5, font_size=14,
                 captions=["original", f"{k} components", f"|difference| x3 (RMSE {rmse:.3f})"])
    ks = [k_ for k_ in (1, 2, 5, 10, 20, 50, 100, 200, 400) if k_ <= K]
    ui.show_grid(np.stack([reconstruct(ds.images[i], e["mean"], e["components"], k_) for k_ in ks] + [orig]),
                 cols=len(ks) + 1, scale=2, captions=[f"k={k_}" for k_ in ks] + ["original"])


reconstruction()
