"""Model: metrics, clickable confusion matrix, per-class scores, calibration, curves, baselines."""

from dashboard import ui

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.figures import model as model_figs
from fer_core.training.baselines import BASELINES, sample_note
from fer_core.constants import FER2013_EMOTIONS
from fer_core.training.report import score_split

SCORES = ("accuracy", "accuracy_dedup", "macro_f1", "top3_accuracy", "ece")  # the side-by-side table's

st.title("Model")
ds = ui.current_dataset()
models = ui.require_models()
splits = [s for s in ("PrivateTest", "PublicTest", "Training") if (ds.split == s).any()]
if not splits:
    st.warning("This dataset has no Training/PublicTest/PrivateTest split to score a model on.")
    st.stop()

c1, c2, c3 = st.columns([1.2, 1, 1])
model = c1.selectbox("Model", models, help="Shipped checkpoints in fer_core/models/weights/ (flip test-time augmentation on).")
split = c2.selectbox("Split", splits, help="PrivateTest is the held-out test; PublicTest was used for model selection.")
targets = ["FER2013 labels"] + (["FER+ majority"] if ds.ferplus is not None else [])
target = c3.radio("Score against", targets, horizontal=True)
tkey = "ferplus" if target == "FER+ majority" else "fer2013"

pred = ui.artifact("predictions", ds, model=model)
try:
    m = score_split(ds, pred["probs"], split=split, target=tkey)
except ValueError as e:
    st.error(str(e))
    st.stop()

# A row that wraps instead of six equal columns: each metric is as wide as its label, none cut off.
with st.container(horizontal=True, gap="medium"):
    st.metric("Accuracy", f"{m['accuracy']:.1%}", width="content")
    st.metric("Accuracy without train twins", f"{m['accuracy_dedup']:.1%}" if m["accuracy_dedup"] is not None else "n/a",
              help=f"{m['n_twins']} images of this split have a pixel-identical twin in Training; they are left out."
              if m["n_twins"] is not None else None, width="content")
    st.metric("Macro F1", f"{m['macro_f1']:.3f}", width="content")
    st.metric("Top-3 accuracy", f"{m['top3_accuracy']:.1%}", width="content")
    st.metric("ECE", f"{m['ece']:.3f}", help="Expected calibration error, 15 bins: 0 = perfectly calibrated.",
              width="content")
    st.metric("Images", f"{m['n']:,}", width="content")

left, right = st.columns([1.1, 1])
with left:
    st.subheader("Confusion matrix")
    norm = st.toggle("Row-normalised (recall per true class)", value=True)
    ev = st.altair_chart(model_figs.confusion_chart(m["confusion"], FER2013_EMOTIONS, normalize=norm),
                         on_select="rerun", key=f"cm_{model}_{split}_{tkey}_{norm}")
    cell = model_figs.confusion_cell(ev.selection if ev else None)
with right:
    st.subheader("Per-class scores")
    pc = pd.DataFrame(m["per_class"]).T
    st.altair_chart(model_figs.per_class_chart(pc, height=260))
    st.dataframe(pc.style.format({"precision": "{:.3f}", "recall": "{:.3f}", "f1": "{:.3f}", "support": "{:.0f}"}),
                 width="stretch")

st.subheader("Images in a cell")
st.caption("Click a cell of the confusion matrix, or pick one here.")
a, b = st.columns(2)
t_sel = a.selectbox("True", FER2013_EMOTIONS, index=cell[0] if cell else 2)
p_sel = b.selectbox("Predicted", FER2013_EMOTIONS, index=cell[1] if cell else 4)
ti, pi = FER2013_EMOTIONS.index(t_sel), FER2013_EMOTIONS.index(p_sel)
hit = np.flatnonzero((m["labels"] == ti) & (m["pred"] == pi))
rows = m["rows"][hit]
ui.offer_selection(ds, rows if cell else None, f"confusion cell {t_sel}->{p_sel} ({split})", key="model_cm")
conf = pred["probs"][rows, pi] if len(rows) else np.array([])
order = np.argsort(-conf)[:60]
st.write(f"**{len(rows)}** images labeled *{t_sel}* predicted *{p_sel}* (most confident first, up to 60).")
picked = ui.show_grid(ds.images[rows[order]], cols=12, scale=2, ids=rows[order], key="model_cell_grid",
                      captions=[f"{r} {c:.0%}" for r, c in zip(rows[order], conf[order])])
st.caption("Click a face to open its card.")
if picked is not None:
    ui.open_card(ds, picked, model=model)


def calibration() -> None:
    c1, c2 = st.columns(2)
    c1.altair_chart(model_figs.reliability_chart(m["reliability"], m["ece"]))
    c2.altair_chart(model_figs.topk_chart(m["topk"]))


def training() -> None:
    info = ui.checkpoint_info(model)
    if info.get("history"):
        st.altair_chart(model_figs.history_chart(info["history"]))
    cfg = info.get("train_config", {})
    st.caption(f"`{model}`: {info.get('model_name')} {info.get('model_kwargs')}, {info.get('n_params', 0):,} "
               f"parameters, label set {info.get('label_set')}, trained {cfg.get('epochs')} epochs, seed {cfg.get('seed')}.")


def side_by_side() -> None:
    rows_tbl = []
    for name in models:
        s = score_split(ds, ui.artifact("predictions", ds, model=name)["probs"], split=split, target=tkey)
        rows_tbl.append({"model": name, "kind": "CNN", **{x: s[x] for x in SCORES}})
    want = st.session_state.get("baselines_on") or ui.artifact_cached("baselines", ds)
    base = ui.artifact("baselines", ds) if want else None
    if base is None:
        if st.button("Fit PCA baselines (logistic regression, linear/RBF SVM, random forest)",
                     help="Seconds on the sample; several minutes on the full FER2013 (or run python -m fer_core.prepare)."):
            st.session_state["baselines_on"] = True
            st.rerun()
    elif split != "Training":
        for name in BASELINES:
            s = score_split(ds, base[f"probs_{name}"], split=split, target=tkey, rows=base["rows"])
            rows_tbl.append({"model": f"PCA + {name}", "kind": "baseline", **{x: s[x] for x in SCORES}})
    st.dataframe(pd.DataFrame(rows_tbl).style.format({c: "{:.3f}" for c in SCORES}, na_rep="n/a"),
                 width="stretch", hide_index=True)
    if base is not None and split != "Training" and (note := sample_note(base, len(ds.rows("Training")))):
        st.caption(note)


# Lazy tabs: only the open one is computed and sent (a new tab's first paint draws the confusion
# matrix, not five charts and two tables at once). Every chart here is Vega-Lite (fer_core.figures):
# one Plotly chart would hold the whole first paint until Plotly's 4.7 MB bundle has run.
MORE = {"Calibration and top-k": calibration, "Training": training, "Models and baselines side by side": side_by_side}
for tab, body in zip(st.tabs(list(MORE), key="model_more", on_change="rerun"), MORE.values()):
    if tab.open:
        with tab:
            body()
