"""The current selection: one set of images shared by every page, and kept in the URL.

A page that selects images (a box on the Embeddings map, a confusion cell, table rows) calls
:func:`set_selection` (or :func:`offer_selection` from code that runs on every rerun); the Review
and All images pages read :func:`current_selection`. It lives in ``st.session_state`` and in the
query parameters ``sel`` (the indices, :mod:`fer_core.data.selection`), ``sel_from`` (where it
came from) and ``sel_data`` (the first 12 characters of the data hash), so a bookmarked URL opens
with the same selection; a bad ``sel`` gives a warning in the sidebar, never a traceback.

Example:
    ui.set_selection(ds, rows, "box on UMAP map")
    sel = ui.current_selection(ds)          # Selection(indices, source, data_hash) or None
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from fer_core.data.dataset import Dataset
from fer_core.data.selection import Selection, SelectionError, clean_source, decode, encode, normalize

from dashboard.ui.source import SAMPLE, current_source, load_source

PARAM, PARAM_FROM, PARAM_DATA = "sel", "sel_from", "sel_data"
_STATE, _TEXT, _WARNING, _URL_READ = "selection", "_selection_text", "selection_warning", "_selection_url_read"


def _short(hash_: str) -> str:
    return hash_[:12]


def set_selection(ds: Dataset, indices, source: str) -> Selection:
    """Make dataset indices `indices` of `ds` the current selection, from `source` (a few words:
    "box on UMAP map"). An empty `indices` clears it."""
    idx = normalize(indices, n=len(ds))
    if not len(idx):
        clear_selection()
        return Selection(idx, clean_source(source), ds.data_hash)
    sel = Selection(idx, clean_source(source) or "unnamed", ds.data_hash)
    st.session_state[_STATE] = sel
    st.session_state[_TEXT] = encode(idx, n=len(ds))
    st.session_state.pop(_WARNING, None)
    _write_url(sel)
    return sel


def offer_selection(ds: Dataset, indices, source: str, *, key: str) -> None:
    """:func:`set_selection`, but only when `indices` or `source` differ from what `key` offered
    last: code that runs on every rerun (a chart's selection) sets the selection once, so a
    cleared selection stays cleared until that chart's selection changes. None or no indices
    (nothing chosen, an empty cell) leave the current selection alone. A change reruns the app
    (``st.rerun``), so what was drawn before (the sidebar's summary) shows it."""
    if indices is None or not len(indices):
        return
    sig = (ds.data_hash, clean_source(source), normalize(indices, n=len(ds)).tobytes())
    if st.session_state.get(f"_offered_{key}") != sig:
        st.session_state[f"_offered_{key}"] = sig
        set_selection(ds, indices, source)
        st.rerun()  # the sidebar's summary was drawn before this page ran


def clear_selection() -> None:
    """Forget the current selection (and its query parameters)."""
    for k in (_STATE, _TEXT, _WARNING):
        st.session_state.pop(k, None)
    _write_url(None)


def _read_url(ds: Dataset) -> None:
    """On a session's first run: the selection in the URL, or a warning saying why it was ignored."""
    text = st.query_params.get(PARAM)
    if not text:
        return
    data = st.query_params.get(PARAM_DATA, "")
    if data and data != _short(ds.data_hash):
        st.session_state[_WARNING] = (f"The link's selection (`{PARAM}=`) was made on other data (data hash "
                                      f"`{data}`, this is `{_short(ds.data_hash)}`): it was ignored.")
        return
    try:
        idx = decode(text, n=len(ds))
    except SelectionError as e:
        st.session_state[_WARNING] = f"The link's selection (`{PARAM}=`) could not be read: {e}. It was ignored."
        return
    set_selection(ds, idx, st.query_params.get(PARAM_FROM) or "link")


def _write_url(sel: Selection | None) -> None:
    want = {PARAM: st.session_state.get(_TEXT), PARAM_FROM: sel.source, PARAM_DATA: _short(sel.data_hash)} \
        if sel is not None else {}
    for k in (PARAM, PARAM_FROM, PARAM_DATA):
        if want.get(k) is None:
            if k in st.query_params:
                del st.query_params[k]
        elif st.query_params.get(k) != want[k]:
            st.query_params[k] = want[k]


def current_selection(ds: Dataset) -> Selection | None:
    """The current selection of `ds`, or None. On a session's first run it is read from the URL;
    on every run it is written back there (page navigation clears the query parameters). A
    selection of other data (the sidebar loaded another file) is dropped."""
    if not st.session_state.get(_URL_READ):
        st.session_state[_URL_READ] = True
        _read_url(ds)
    sel = st.session_state.get(_STATE)
    if sel is not None and sel.data_hash != ds.data_hash:
        clear_selection()
        sel = None
    _write_url(sel)
    return sel


def selection_warning() -> str | None:
    """Why the URL's selection was ignored, when it was (else None)."""
    return st.session_state.get(_WARNING)


def selection_summary(sel: Selection | None) -> str:
    """'123 images · box on UMAP map' (or 'No images selected')."""
    if sel is None:
        return "No images selected"
    return f"**{len(sel):,} image{'s' * (len(sel) != 1)}** · {sel.source}"


def selection_sidebar(box=None, *, review_page=None) -> None:
    """The summary of the current selection: count, source, a link to review it and a clear
    button; the URL warning when a link's selection was ignored. Drawn in `box` (default: the
    sidebar) before the page runs: a page that changes the selection does it in a callback or
    through :func:`offer_selection` (which reruns). (The dataset is loaded quietly: the page
    itself reports a source that fails to load.)"""
    ds, err = load_source(current_source())
    if err:
        ds, _ = load_source(SAMPLE)
    sel = current_selection(ds)
    box = (box or st.sidebar).container(key="selection_sidebar")
    box.markdown("**Selection**")
    if (w := selection_warning()) is not None:
        box.warning(w, icon=":material/link_off:")
    if sel is None:
        box.caption("No images selected: select a group on Embeddings, a confusion cell on Model, or rows of "
                    "All images.")
        return
    box.caption(selection_summary(sel))
    a, b = box.columns([1.2, 1], vertical_alignment="center")
    if review_page is not None:
        a.page_link(review_page, label="Review", icon=":material/rate_review:")
    b.button("Clear", key="selection_clear", icon=":material/close:", on_click=clear_selection)


def indices_or_empty(sel: Selection | None) -> np.ndarray:
    """The selection's indices, or an empty array."""
    return np.zeros(0, np.int64) if sel is None else sel.indices
