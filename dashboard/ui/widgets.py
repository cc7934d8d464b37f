"""Shared widgets: faces, face grids, the image card, vote and count tables, a progress bar.

Each draws with Streamlit and returns nothing (or the value chosen); the figures they show come
from ``fer_core.figures``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS, FERPLUS_TO_FER2013, FERPLUS_VOTE_COLUMNS
from fer_core.data import images as fimg
from fer_core.data.dataset import Dataset
from fer_core.figures import face as face_figs
#: One colour per FER2013 class, used by every chart so a class keeps its colour across pages.
from fer_core.figures.style import CLASS_COLORS  # noqa: F401  (pages colour classes with it)

from dashboard.ui.derived import pixel_stats

#: Caption colours of face grids: agrees with FER+ / disagrees / FER+ has no majority.
OK_RGB, BAD_RGB, NONE_RGB = (40, 40, 40), (200, 30, 30), (120, 120, 120)


def label_name(i: int, classes=FER2013_EMOTIONS) -> str:
    """Class name of label `i` ("—" for -1, unlabeled)."""
    return classes[i] if i >= 0 else "—"


def describe(ds: Dataset, i: int) -> dict:
    """Metadata of row `i` as a display dict."""
    d = {"index": int(i), "source row": int(ds.row[i]), "split": ds.split[i] or "—",
         "FER2013 label": label_name(int(ds.labels[i]))}
    if ds.paths is not None:
        d["file"] = str(ds.paths[i])
    fp = ds.ferplus
    if fp is not None:
        code = fimg.agreement_codes(ds.labels[i:i + 1], fp.majority[i:i + 1], fp.majority_fer2013[i:i + 1])[0]
        d.update({"FER+ majority": FERPLUS_EMOTIONS[fp.majority[i]] if fp.majority[i] >= 0 else "no majority",
                  "FER+ vs FER2013": fimg.AGREEMENT[code], "not a face (FER+)": "yes" if fp.not_face[i] else "no",
                  "FER+ votes": int(fp.votes[i].sum())})
    return d


def show_face(image: np.ndarray, *, scale: int = 5, caption: str | None = None) -> None:
    """One face, upscaled with nearest neighbour (float images in [0, 1] are accepted)."""
    img = image if image.dtype == np.uint8 else fimg.to_uint8(image)
    st.image(fimg.upscale(img, scale), caption=caption, width="content")


def show_grid(images: np.ndarray, *, cols: int = 12, scale: int = 2, captions=None, caption_colors=None,
              font_size: int = 11) -> None:
    """A grid of faces sent as one composed image (one request however many faces)."""
    if len(images) == 0:
        st.info("No images match.")
        return
    st.image(fimg.tile(images, cols=cols, scale=scale, captions=captions, caption_colors=caption_colors,
                       font_size=font_size), width="content")


def grid_captions(ds: Dataset, idx: np.ndarray) -> tuple[list[str], list[tuple]]:
    """'#i label' captions; red when FER+ disagrees, grey when FER+ has no majority."""
    caps = [f"{i} {label_name(int(ds.labels[i]))}" for i in idx]
    if ds.ferplus is None:
        return caps, [OK_RGB] * len(idx)
    fp = ds.ferplus
    codes = fimg.agreement_codes(ds.labels[idx], fp.majority[idx], fp.majority_fer2013[idx])
    return caps, [(OK_RGB, BAD_RGB, NONE_RGB)[c] for c in codes]


def votes_chart(ds: Dataset, i: int, *, step: int = 17):
    """Image `i`'s 10 FER+ votes (Vega-Lite: drawn before a new tab has loaded Plotly), the majority
    bar dark and the column of its FER2013 label outlined."""
    lab = int(ds.labels[i])
    col = int(np.flatnonzero(FERPLUS_TO_FER2013 == lab)[0]) if lab >= 0 else -1
    return face_figs.votes_chart(ds.ferplus.votes[i], FERPLUS_VOTE_COLUMNS, majority=int(ds.ferplus.majority[i]),
                                     label_column=col, step=step)


def image_card(ds: Dataset, i: int) -> None:
    """Large face, its metadata and its FER+ vote bar chart."""
    left, mid, right = st.columns([1.1, 1.3, 2])
    with left:
        show_face(ds.images[i], scale=5)
    with mid:
        meta = describe(ds, i)
        stats = pixel_stats(ds).iloc[i]
        meta.update({"brightness (mean)": f"{stats.brightness:.1f}", "contrast (std)": f"{stats.contrast:.1f}"})
        st.dataframe(pd.DataFrame({"value": [str(v) for v in meta.values()]}, index=list(meta)),
                     width="stretch", height=(len(meta) + 1) * 35 + 3)
    with right:
        if ds.ferplus is None:
            st.info("No FER+ votes loaded: add fer2013new.csv in the sidebar.")
        else:
            st.altair_chart(votes_chart(ds, i, step=20), key=f"votes_{i}")


def show_counts(df: pd.DataFrame, **kw) -> None:
    """A table of integer counts with thousands separators."""
    st.dataframe(df, width="stretch", column_config={c: st.column_config.NumberColumn(format="localized")
                                                     for c in df.columns}, **kw)


def pick_gallery(images: np.ndarray, idx: np.ndarray, captions: list[str], *, key: str, cols: int = 6,
                 scale: int = 2, selected: int | None = None) -> None:
    """Thumbnails of `images[idx]` in a grid, each with a button that sets st.session_state[key]
    to its index (the clicked face is then shown large by the page). The selected one is marked."""
    def pick(i):
        st.session_state[key] = int(i)
    for start in range(0, len(idx), cols):
        for col, i, cap in zip(st.columns(cols), idx[start:start + cols], captions[start:start + cols]):
            with col:
                st.image(fimg.upscale(images[i], scale), caption=cap, width="content")
                st.button(f"#{i}", key=f"{key}_btn_{i}", on_click=pick, args=(i,), width="stretch",
                          type="primary" if selected == int(i) else "secondary")


def run_with_progress(text: str, fn, **kw):
    """`fn(**kw, progress=callback)` under an st.progress bar that is removed when done."""
    slot = st.empty()
    bar = slot.progress(0.0, text=text)
    try:
        return fn(progress=lambda f, t: bar.progress(min(max(float(f), 0.0), 1.0), text=t), **kw)
    finally:
        slot.empty()
