"""Two models, one face: when more than one model is available, the face card shows every model's
probabilities and its Grad-CAM map side by side, and says whether they agree
(:func:`fer_core.analysis.model_compare.disagreement`). With one model nothing is drawn."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.ui import loaders
from dashboard.ui.derived import attribution
from fer_core.analysis.attribute import overlay
from fer_core.analysis.model_compare import disagreement
from fer_core.figures import face as face_figs

#: At most this many models side by side (the card's width); the rest are named.
MAX_SIDE_BY_SIDE = 4
#: The saliency method of the side-by-side maps: one pass per face, and class-specific.
METHOD = "gradcam"


def face_probs(ds, i: int, model: str) -> tuple[np.ndarray, list[str]]:
    """Model `model`'s probabilities (K,) of image `i` and its class names: from its predictions
    artifact when that is built, else from one forward pass on this face (same flip averaging)."""
    if loaders.artifact_cached("predictions", ds, model=model):
        pred = loaders.artifact("predictions", ds, model=model, spinner=False)
        return np.asarray(pred["probs"][i]), [str(c) for c in pred["classes"]]
    from fer_core.analysis.predictions import features_and_probs
    net = loaders.load_model(model)
    _, probs = features_and_probs(net, ds.images[i:i + 1], progress=None)
    return probs[0], [str(c) for c in net.classes]


def agreement_text(models: list[str], probs: list[np.ndarray], classes: list[list[str]]) -> str:
    """One line: whether the models' top-1 classes agree, and how far apart their probabilities are."""
    tops = [c[int(p.argmax())] for p, c in zip(probs, classes)]
    if any(c != classes[0] for c in classes):
        return "The models predict different class sets: " + ", ".join(f"`{m}` {t}" for m, t in zip(models, tops))
    d = disagreement([p[None] for p in probs])
    verdict = f"agree: **{tops[0]}**" if not d["differs"][0] else \
        "**disagree**: " + " vs ".join(f"`{m}` {t}" for m, t in zip(models, tops))
    return (f"The {len(models)} models {verdict} · Jensen-Shannon divergence {d['js'][0]:.3f} bits · largest "
            f"probability gap {d['gap'][0]:.0%}")


def models_side_by_side(ds, i: int, models: list[str], *, key: str) -> None:
    """Each model of `models` (the card's own first) on image `i`: its prediction, probabilities
    and Grad-CAM map for its predicted class, in columns. Draws nothing for fewer than two models."""
    if len(models) < 2:
        return
    shown = models[:MAX_SIDE_BY_SIDE]
    probs, classes = zip(*(face_probs(ds, i, m) for m in shown))
    lab = int(ds.labels[i])
    with st.container(key=f"{key}_models"):
        st.markdown("**Every model on this face**")
        st.caption(agreement_text(list(shown), list(probs), list(classes))
                   + (f" · not shown: {', '.join(models[MAX_SIDE_BY_SIDE:])}" if len(models) > len(shown) else ""))
        for col, m, p, cls in zip(st.columns(len(shown), border=True), shown, probs, classes):
            k = int(p.argmax())
            col.markdown(f"`{m}` predicts **{cls[k]}** ({p[k]:.0%})")
            chart, sal = col.columns([1.5, 1], vertical_alignment="center")
            chart.altair_chart(face_figs.class_probs_chart(p, cls, label=lab if len(cls) == 7 else -1, step=15),
                               key=f"{key}_probs_{m}_{i}")
            amap = attribution(m, ds.images[i:i + 1], METHOD, k)[0]
            sal.image(overlay(ds.images[i], amap, scale=3), caption=f"Grad-CAM for {cls[k]}")
