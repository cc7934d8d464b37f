"""The face card: a dialog that opens on a click on any face (Dataset grid, the Model page's
confusion-cell gallery, the Embeddings selection, Label errors), with the image's labels and FER+
votes, the model's prediction, its label-error rank, flag controls (with undo), a link to its
saliency maps, and the faces most similar to it in the model's feature space. With more than one
model available, every model's probabilities and Grad-CAM map side by side (:mod:`dashboard.ui.compare`)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.ui import loaders, widgets
from dashboard.ui.bulk import DECISION_TEXT
from dashboard.ui.compare import models_side_by_side
from dashboard.ui.derived import flag_store, pixel_stats
from dashboard.ui.source import PAGES_DIR
from fer_core.analysis.similar import nearest
from fer_core.constants import FER2013_EMOTIONS
from fer_core.data.flags import DECISIONS, FlagError
from fer_core.figures import face as face_figs

#: session key: the dataset index whose card is open (a click on a similar face moves it)
CARD = "card_face"
#: how many similar faces the card shows
SIMILAR_K = 12


def open_card(ds, i: int, *, model: str | None = None) -> None:
    """Open the face card of image `i` of `ds` (model: whose prediction and features it shows;
    None = the default model)."""
    st.session_state[CARD] = int(i)
    st.session_state.pop("card_similar", None)
    _card(ds, model or loaders.shipped_models()[0])


def similar_faces(ds, pred: dict, i: int, *, k: int = SIMILAR_K) -> pd.DataFrame:
    """The `k` images nearest to image `i` in the model's feature space: index, similarity,
    label, predicted class."""
    idx, sims = nearest(pred["features"], pred["features"][i], k=k, exclude=int(i))
    classes = [str(c) for c in pred["classes"]]
    return pd.DataFrame({"index": idx, "similarity": sims,
                         "label": [widgets.label_name(int(ds.labels[j])) for j in idx],
                         "predicted": [classes[int(pred["probs"][j].argmax())] for j in idx]})


@st.dialog("Face card", width="large")
def _card(ds, model: str) -> None:
    i = int(st.session_state[CARD])
    row, lab = int(ds.row[i]), int(ds.labels[i])
    pred = loaders.artifact("predictions", ds, model=model)
    classes = [str(c) for c in pred["classes"]]
    st.markdown(f"**Image #{i}** · source row {row} · {ds.split[i] or '—'} · label **{widgets.label_name(lab)}** · "
                f"model `{model}` predicts **{classes[int(pred['probs'][i].argmax())]}**")
    a, b, c = st.columns([1, 1.5, 1.7])
    with a:
        widgets.show_face(ds.images[i], scale=4)
    with b:
        meta = widgets.describe(ds, i)
        stats = pixel_stats(ds).iloc[i]
        meta.update({"brightness (mean)": f"{stats.brightness:.1f}", "contrast (std)": f"{stats.contrast:.1f}"})
        if loaders.artifact_cached("label_errors", ds, model=model):
            score = loaders.artifact("label_errors", ds, model=model, spinner=False)["score_ensemble"]
            meta["label-error rank"] = f"{int((score > score[i]).sum()) + 1:,} of {len(score):,}"
        st.dataframe(pd.DataFrame({"value": [str(v) for v in meta.values()]}, index=list(meta)), width="stretch",
                     height=(len(meta) + 1) * 35 + 3)
    others = [m for m in loaders.shipped_models() if m != model]
    with c:
        if not others:  # with several models their probabilities are drawn side by side below
            st.altair_chart(face_figs.class_probs_chart(pred["probs"][i], classes,
                                                        label=lab if len(classes) == 7 else -1, step=17),
                            key=f"card_probs_{i}")
        if ds.ferplus is not None:
            st.altair_chart(widgets.votes_chart(ds, i, step=15), key=f"card_votes_{i}")
    models_side_by_side(ds, i, [model, *others], key="card")  # nothing with one model
    _flag_controls(ds, i, row, lab)
    left, right = st.columns(2)
    if left.button("Saliency maps of this face", icon=":material/local_fire_department:", key=f"card_sal_{i}"):
        st.session_state["selected_row"] = i
        st.switch_page(PAGES_DIR / "saliency.py")
    if right.button(f"Find {SIMILAR_K} similar faces", icon=":material/search:", key=f"card_sim_{i}"):
        st.session_state["card_similar"] = i
    if st.session_state.get("card_similar") == i:
        sim = similar_faces(ds, pred, i)
        st.caption("Nearest faces in the model's feature space (cosine similarity), most similar first. "
                   "Click one to open its card.")
        picked = widgets.face_grid(ds.images[sim["index"]], sim["index"],
                              [f"{s:.2f} {lb}" for s, lb in zip(sim["similarity"], sim["label"])],
                              key=f"card_grid_{i}", cols=12, size=80)
        if picked is not None:
            st.session_state[CARD] = picked
            st.session_state["card_similar"] = picked
            st.rerun(scope="fragment")


def _flag_controls(ds, i: int, row: int, lab: int) -> None:
    """The current decision on the face (written after this run's Save or Undo is applied), and a
    decision (with a corrected label) to record, with undo."""
    flags = flag_store()
    head = st.empty()
    c = st.columns([2.2, 1.3, 0.8, 0.8])
    decision = c[0].segmented_control("Decision", list(DECISIONS), format_func=DECISION_TEXT.get,
                                      key=f"card_dec_{i}", label_visibility="collapsed")
    corrected = c[1].selectbox("Corrected label", FER2013_EMOTIONS, index=max(lab, 0), key=f"card_corr_{i}",
                               label_visibility="collapsed", disabled=decision != "mislabeled")
    if c[2].button("Save", key=f"card_save_{i}", type="primary", disabled=decision is None):
        try:
            flags.add(data_hash=ds.data_hash, row=row, decision=decision,
                      label=FER2013_EMOTIONS.index(corrected) if decision == "mislabeled" else None)
        except FlagError as e:
            st.error(str(e))
    if c[3].button("Undo", key=f"card_undo_{i}", help="remove the most recent decision on this dataset"):
        undone = flags.undo(data_hash=ds.data_hash)
        st.toast(f"Undid {DECISION_TEXT.get(undone['decision'], undone['decision'])} on row {undone['row']}"
                 if undone else "Nothing to undo")
    latest = flags.latest(ds.data_hash).set_index("row")
    now = str(latest.loc[row, "decision"]) if row in latest.index else ""
    head.markdown(f"**Flag** · current decision: **{DECISION_TEXT.get(now, 'none')}**")


def similar_to_crop(ds, crop, *, model: str, key: str, k: int = SIMILAR_K) -> None:
    """The `k` Training faces of `ds` nearest to a 48x48 face `crop` that is not in the dataset (a
    photo's face on Try a face), in `model`'s feature space; a click opens that face's card."""
    from fer_core.analysis.predictions import features_and_probs
    pred = loaders.artifact("predictions", ds, model=model)
    feats, _ = features_and_probs(loaders.load_model(model), crop[None], progress=None)
    train = ds.rows("Training")
    idx, sims = nearest(pred["features"], feats[0], k=k, among=train if len(train) else None)
    st.caption(f"The {len(idx)} {'Training ' if len(train) else ''}faces of `{ds.source}` the model finds most "
               "similar (cosine in its feature space), with their labels. Click one to open its card.")
    picked = widgets.face_grid(ds.images[idx], idx, [f"{s:.2f} {widgets.label_name(int(ds.labels[j]))}"
                                                     for s, j in zip(sims, idx)], key=key, cols=12, size=80)
    if picked is not None:
        open_card(ds, picked, model=model)
