"""Saliency page: where the model looks over every image (the ``attention`` stage: each image's
Grad-CAM map summed over a 6x6 grid), by predicted class, and the faces it looks at the border of."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import ui
from fer_core.analysis.attention import GRID, border_share, class_means, grid_map
from fer_core.analysis.attribute import overlay

#: Faces shown in the border gallery.
SHOWN = 24
#: Grad-CAM images per second on one CPU core of the dev machine (compact; measured on the sample:
#: 512 images in 2.4 s), for the estimate on the button.
CPU_RATE = 200.0


@ui.cache_data(show_spinner=False, max_entries=4)
def _views(ds, model: str, _summary: np.ndarray, _predicted: np.ndarray, k: int) -> dict:
    """Per predicted class: mean face, mean grid, count and mean border share; and every image's
    border share. Keyed by the dataset and model (their attention artifact and predictions are
    fixed by them), so the 350k-row arrays are not hashed on every rerun."""
    means, counts = class_means(_summary, _predicted, k)
    border = border_share(_summary)
    faces = np.stack([ds.images[_predicted == c].mean(0) if counts[c] else np.full((48, 48), 128.0)
                      for c in range(k)])
    class_border = np.array([border[_predicted == c].mean() if counts[c] else 0.0 for c in range(k)])
    return {"means": means, "counts": counts, "faces": faces, "border": border, "class_border": class_border}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def attention_panel(ds, model: str, classes: list[str], probs: np.ndarray, *, alpha: float) -> None:
    st.subheader("Where the model looks, over every image")
    st.caption(f"Each image's Grad-CAM map (for its predicted class) summed over a {GRID}x{GRID} grid of 8x8-pixel "
               "cells. The outer ring of cells is the frame's border: a model that puts much of its map there "
               "reads the background, a watermark or a hand rather than the face.")
    if not ui.artifact_cached("attention", ds, model=model):
        if st.button(f"Compute it for all {len(ds):,} images (Grad-CAM, about {_duration(len(ds) / CPU_RATE)} "
                     "on one CPU core)", icon=":material/grid_on:", key="att_compute"):
            ui.run_with_progress("Grad-CAM over every image...", ui.compute_artifact, name="attention", ds=ds,
                                 model=model)
            st.rerun()
        st.caption("Or build it ahead: `python -m fer_core.prepare --only attention`, or on many machines with "
                   "`python -m fer_core.distributed predictions --saliency gradcam --import ...`.")
        return
    summary = ui.artifact("attention", ds, model=model)["summary"]
    v = _views(ds, model, summary, probs.argmax(1), len(classes))
    border, counts = v["border"], v["counts"]
    st.image([overlay(np.clip(f, 0, 255).astype(np.uint8), grid_map(m), alpha=alpha, scale=3)
              for f, m in zip(v["faces"], v["means"])],
             caption=[f"{c}: {n:,} · border {b:.0%}" if n else f"{c}: never predicted"
                      for c, n, b in zip(classes, counts, v["class_border"])], width=124)
    ring = 1 - (GRID - 2) ** 2 / GRID ** 2
    st.caption(f"Mean grid per predicted class (images predicted; their mean share on the border), over the "
               f"class's mean face. The border ring is {ring:.0%} of the "
               f"frame; over all {len(ds):,} images it holds a median {np.median(border):.0%} of the map, and "
               f"{int((border > 0.5).sum()):,} images have more than half of it there.")
    order = np.argsort(-border, kind="stable")
    st.markdown("**Faces where the model looks most at the border** (share of the map in the outer ring)")
    top = order[:SHOWN]
    picked = ui.face_grid(ds.images[top], top, [f"{i} {border[i]:.0%}" for i in top], key="att_border", cols=12,
                          size=80)
    if picked is not None:
        ui.open_card(ds, picked, model=model)
    a, b = st.columns([1, 3], vertical_alignment="bottom")
    n = int(a.number_input("Review the top N by border share", 1, len(ds), min(100, len(ds)), key="att_top_n"))
    if b.button(f"Review the top {n:,}", icon=":material/rate_review:", key="att_review"):
        ui.set_selection(ds, order[:n], f"top {n} by attention on the border ({model})")
        try:
            st.switch_page(ui.PAGES_DIR / "review.py")
        except Exception:  # page run on its own (no navigation)
            st.info("Open the Review page: these images are the current selection.")
