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
              font_size: int = 11, ids=None, key: str | None = None, selected: int | None = None) -> int | None:
    """A grid of faces. With `ids` and `key`, each face is clickable (a Vega-Lite chart of
    thumbnails) and the id of a face just clicked is returned (None on a run without a new click);
    without, the faces are sent as one composed image (one request however many faces).

    Args:
        images: (M, 48, 48) uint8 faces; ids: (M,) their dataset indices (what a click returns).
        captions: one per face; caption_colors: RGB tuples (or CSS colours) per caption.
        selected: the id to frame (the face whose card is open).
    """
    if len(images) == 0:
        st.info("No images match.")
        return None
    if ids is None or key is None:
        st.image(fimg.tile(images, cols=cols, scale=scale, captions=captions, caption_colors=caption_colors,
                           font_size=font_size), width="content")
        return None
    return face_grid(images, ids, captions or [str(i) for i in ids], key=key, cols=cols, size=48 * scale,
                     caption_colors=caption_colors, selected=selected)


def _css(color) -> str:
    return color if isinstance(color, str) else "#%02x%02x%02x" % tuple(int(c) for c in color[:3])


def face_grid(images: np.ndarray, ids, captions: list[str], *, key: str, cols: int = 8, size: int = 96,
              caption_colors=None, selected: int | None = None) -> int | None:
    """Clickable thumbnails (one Vega-Lite chart): returns the id of the face clicked in this run,
    else None. After a click the chart starts afresh (a new widget key), so clicking the same face
    again, once its card is closed, opens it again. The ids shown are kept in
    ``st.session_state[f"{key}__ids"]``."""
    gen = st.session_state.get(f"{key}__gen", 0)
    st.session_state[f"{key}__ids"] = [int(i) for i in ids]  # what this run showed (tests, bulk actions)
    uris = [fimg.png_data_uri(im, scale=max(1, size // 48)) for im in images]
    chart = face_figs.face_grid_chart(uris, ids, list(captions), cols=cols, size=size, selected=selected,
                                      caption_colors=[_css(c) for c in caption_colors] if caption_colors else None)
    event = st.altair_chart(chart, on_select="rerun", selection_mode=face_figs.FACE_PICK, key=f"{key}__{gen}")
    picked = (event.selection.get(face_figs.FACE_PICK) or []) if event else []
    if not picked:
        return None
    st.session_state[f"{key}__gen"] = gen + 1
    return int(picked[0]["id"])


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


def show_counts(df: pd.DataFrame, **kw) -> None:
    """A table of integer counts with thousands separators."""
    st.dataframe(df, width="stretch", column_config={c: st.column_config.NumberColumn(format="localized")
                                                     for c in df.columns}, **kw)


def pick_gallery(images: np.ndarray, idx: np.ndarray, captions: list[str], *, key: str, cols: int = 6,
                 scale: int = 2, selected: int | None = None) -> None:
    """Clickable thumbnails of `images[idx]`: a click on a face sets st.session_state[key] to its
    index (the page then shows it large) and reruns. The selected one is framed."""
    picked = face_grid(images[idx], idx, captions, key=f"{key}_grid", cols=cols, size=48 * scale, selected=selected)
    if picked is not None and picked != st.session_state.get(key):
        st.session_state[key] = picked
        st.rerun()


def run_with_progress(text: str, fn, **kw):
    """`fn(**kw, progress=callback)` under an st.progress bar that is removed when done."""
    slot = st.empty()
    bar = slot.progress(0.0, text=text)
    try:
        return fn(progress=lambda f, t: bar.progress(min(max(float(f), 0.0), 1.0), text=t), **kw)
    finally:
        slot.empty()
