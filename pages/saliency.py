"""Saliency: which pixels drive the prediction, per image and per class, and which methods to trust."""

from dashboard import ui
from dashboard.panels.attention import attention_panel

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.figures import saliency as saliency_figs
from fer_core.analysis.attribute import METHOD_COST, METHODS, overlay, randomization_summary
from fer_core.constants import FER2013_EMOTIONS, SPLITS

DEFAULT_METHODS = ["saliency", "integrated_gradients", "gradcam", "guided_backprop"]

st.title("Saliency")
ds = ui.current_dataset()
models = ui.require_models()
model = st.sidebar.selectbox("Model", models, key="sal_model")
classes = list(ui.load_model(model).classes)
probs = ui.artifact("predictions", ds, model=model)["probs"]
sanity = ui.sanity_result(ds, model)
flags = {r["method"]: r["flagged"] for r in randomization_summary(sanity)} if sanity else {}


def name(m: str) -> str:
    return METHODS[m] + (" ⚠ (fails the sanity check)" if flags.get(m) else "")


# ---- the image: carried over from another page, typed, or picked from a gallery ------------
sel = st.session_state.get("selected_row")
if sel is not None and st.session_state.get("_sal_seen") != int(sel):  # set by Dataset / Embeddings / Label errors
    st.session_state._sal_seen = st.session_state.sal_index = int(np.clip(int(sel), 0, len(ds) - 1))
st.session_state.setdefault("sal_index", 0)


with st.expander("Pick an image from a gallery", icon=":material/photo_library:"):
    g = st.columns(3)
    present = [s for s in SPLITS if (ds.split == s).any()]
    gsplit = g[0].selectbox("Split", ["all"] + present, index=1 + present.index("PrivateTest") if "PrivateTest" in present
                            else 0)
    glabel = g[1].selectbox("FER2013 label", ["all", *FER2013_EMOTIONS])
    gwhich = g[2].selectbox("Show", ["all", "correct", "misclassified"], disabled=len(classes) != 7,
                            help=None if len(classes) == 7 else "the model's classes are not FER2013's")
    m = np.ones(len(ds), bool) if gsplit == "all" else ds.split == gsplit
    if glabel != "all":
        m &= ds.labels == FER2013_EMOTIONS.index(glabel)
    ok = probs.argmax(1) == ds.labels
    m &= ok if gwhich == "correct" else (~ok & (ds.labels >= 0)) if gwhich == "misclassified" else True
    cand = np.flatnonzero(m)[:48]
    picked = ui.show_grid(ds.images[cand], cols=12, scale=2, ids=cand, key="sal_grid",
                          captions=[f"{i} {classes[probs[i].argmax()]}" for i in cand])
    st.caption("Click a face to explain it. Caption: dataset index and predicted class.")
    if picked is not None:
        st.session_state.sal_index = picked
        st.rerun()

c = st.columns([1, 1.3, 2.2])
i = int(c[0].number_input("Dataset index", 0, len(ds) - 1, key="sal_index",
                          help="Rows selected on the Dataset, Embeddings or Label-errors pages arrive here."))
pred = int(probs[i].argmax())
target = c[1].selectbox("Explain the class", ["predicted"] + classes, key="sal_target",
                        format_func=lambda t: "the predicted class" if t == "predicted" else t)
methods = c[2].multiselect("Methods", list(METHODS), default=DEFAULT_METHODS, format_func=name, key="sal_methods",
                           wrap=True)  # every chosen method shows (in a column the chips would scroll)
tgt = pred if target == "predicted" else classes.index(target)
alpha = st.slider("Map opacity", 0.0, 1.0, 0.6, 0.05, key="sal_alpha")

img = ds.images[i:i + 1]
cols = st.columns(len(methods) + 1)
cols[0].image(overlay(img[0], np.zeros((48, 48)), alpha=0, scale=4),
              caption=f"#{i} · label {ui.label_name(int(ds.labels[i]))} · predicted {classes[pred]} {probs[i, pred]:.0%}")
for col, m in zip(cols[1:], methods):
    with col, st.spinner(f"{METHODS[m]}..."):
        amap = ui.attribution(model, img, m, tgt)[0]
        col.image(overlay(img[0], amap, alpha=alpha, scale=4), caption=name(m))
st.caption(f"Maps for class **{classes[tgt]}** (probability {probs[i, tgt]:.0%}), blended over the face (red = most important). Gradient "
           "methods show |gradient|; Grad-CAM and Occlusion show positive evidence only.")

# ---- per-class average maps ---------------------------------------------------------------
st.subheader("Average map per class")
a, b = st.columns([1, 3])
cmethod = a.selectbox("Method", list(METHODS), index=list(METHODS).index("gradcam"), format_func=name, key="sal_cmethod")
b.caption("Each map is scaled to [0, 1] and averaged over up to 50 correctly classified PublicTest/PrivateTest "
          f"images of the class, for the class itself, blended over those images' mean face. "
          f"{METHODS[cmethod]} costs about {METHOD_COST[cmethod]} forward/backward pass(es) per image.")
try:
    cm = ui.artifact("class_maps", ds, model=model, method=cmethod)
    blank = np.full((144, 144, 3), 235, np.uint8)  # a class with no correctly classified image
    st.image([overlay(np.clip(f, 0, 255).astype(np.uint8), mp, alpha=alpha, scale=3) if n else blank
              for f, mp, n in zip(cm["mean_faces"], cm["maps"], cm["counts"])],
             caption=[f"{c} ({n} images)" if n else f"{c}: no correct image" for c, n in zip(classes, cm["counts"])],
             width=124)
except ValueError as e:
    st.info(f"No per-class maps for this data: {e}")

# ---- every image, summed over a grid -------------------------------------------------------
attention_panel(ds, model, classes, probs, alpha=alpha)

# ---- sanity check -----------------------------------------------------------------------
st.subheader("Sanity check: do the maps depend on the model?")
st.caption("After Adebayo et al. 2018: the model's layers are re-initialised one at a time from the top (head, then "
           "the last block, ...) and each method's map is compared with the trained model's map (Spearman rank "
           "correlation over pixels). A faithful method's map should change as the weights are destroyed; one that "
           "stays similar shows image structure (edges), not what the model learned.")
if sanity is None:
    if st.button("Run the sanity check (8 images, every method: 1-3 minutes for the compact model on 2 CPU cores)",
                 icon=":material/science:"):
        bar = st.progress(0.0, text="Starting...")
        ui.sanity_result(ds, model, compute=True, progress=lambda f, t: bar.progress(min(1.0, f), text=t))
        st.rerun()
    st.caption("Or build it ahead with `python -m fer_core.prepare --only sanity`.")
else:
    rows = randomization_summary(sanity)
    st.altair_chart(saliency_figs.randomization_chart(sanity, METHODS, flags), key=f"sanity_{model}")
    df = pd.DataFrame(rows).set_index("name").drop(columns="method")
    df["verdict"] = np.where(df["flagged"], "⚠ not to be trusted", "changes with the weights")
    st.dataframe(df.drop(columns="flagged").style.format({c: "{:.2f}" for c in ("after_head", "top_half", "mean_rho",
                                                                                "final_rho")}), width="stretch")
    bad = [METHODS[r["method"]] for r in rows if r["flagged"]]
    if bad:
        st.warning(f"{', '.join(bad)}: the map barely changes when the top half of the model's layers is randomized "
                   "(mean ρ above 0.7), so it says little about what this model learned. Such methods carry a ⚠ "
                   "above.",
                   icon=":material/warning:")
