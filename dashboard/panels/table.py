"""The All images page's panels: filters and sorting of the table of every image, one page of its
rows with thumbnails (only that page's faces are encoded and sent), and row selection that sets
the current selection. The table is composed in :mod:`fer_core.analysis.image_table`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import ui
from fer_core.analysis.image_table import FLAG_FILTERS, query
from fer_core.data import images as fimg

PER_PAGE = 200
#: How the number columns are shown.
FORMATS = {"confidence": "percent", "FER+ agreement": "percent", "loss": "%.2f", "label-error score": "%.3f",
           "outlier score": "%.3f", "models JS": "%.3f", "models gap": "percent"}
#: Tooltips of the columns that compare models (shown when more than one model is available).
HELP = {"models' top-1": "each available model's predicted class, the sidebar's model first",
        "models disagree": "the models' predicted classes differ",
        "models JS": "Jensen-Shannon divergence of the models' probabilities, in bits (0 = the same; 1 = two "
                     "models certain of different classes)",
        "models gap": "the largest difference between two models' probabilities of one class"}


def filters(table: pd.DataFrame) -> dict:
    """The filter widgets (one row); returns those keyword arguments of :func:`query`."""
    c = st.columns([1.1, 1.5, 1.5, 1.1])
    present = lambda col: sorted(set(table[col].tolist())) if col in table else []
    return {"splits": c[0].multiselect("Split", present("split"), key="tbl_split", placeholder="all"),
            "labels": c[1].multiselect("Label", present("label"), key="tbl_label", placeholder="all"),
            "predictions": c[2].multiselect("Prediction", present("prediction"), key="tbl_pred", placeholder="all",
                                            disabled="prediction" not in table,
                                            help=None if "prediction" in table else "no predictions (see above)"),
            "flag": c[3].selectbox("Flag", FLAG_FILTERS, key="tbl_flag",
                                   help="flagged: the current decision is not 'not an error'")}


def describe_filters(f: dict) -> str:
    """'table filter: split PrivateTest; label fear, sad' (or 'table: every image')."""
    parts = [f"{name} {', '.join(map(str, f[k]))}" for k, name in
             (("splits", "split"), ("labels", "label"), ("predictions", "prediction")) if f[k]]
    parts += [f"flag {f['flag']}"] if f["flag"] != "all" else []
    return "table filter: " + "; ".join(parts) if parts else "table: every image"


def page_of(ds, shown: pd.DataFrame, *, key: str) -> pd.DataFrame:
    """A page of rows with a thumbnail column (data-URI PNGs of these rows only)."""
    thumbs = [fimg.png_data_uri(ds.images[i]) for i in shown["index"].to_numpy()]
    return shown.assign(face=thumbs)[["face", *shown.columns]]


def table_view(ds, table: pd.DataFrame, flags) -> None:
    """Filters, sort, one page of rows; checked rows (or every filtered row) become the current
    selection; flag all and export of the current selection."""
    from fer_core.analysis.image_table import with_flags
    f = filters(table)
    c = st.columns([1.3, 1.15, 1.0, 1.3, 1.3], vertical_alignment="bottom")
    f["sort_by"] = c[0].selectbox("Sort by", [col for col in table.columns if col != "row"], key="tbl_sort")
    f["descending"] = c[1].toggle("Largest first", key="tbl_desc")  # missing values stay last
    t = query(with_flags(table, flags.latest(ds.data_hash)), **f)
    pages = max(1, -(-len(t) // PER_PAGE))
    sig = repr(sorted(f.items()))
    if st.session_state.get("_tbl_sig") != sig:  # new filters or sort: back to page 1
        st.session_state["_tbl_sig"], st.session_state["tbl_page"] = sig, 1
    st.session_state["tbl_page"] = min(st.session_state.get("tbl_page", 1), pages)
    page = c[2].number_input(f"Page (of {pages:,})", 1, pages, key="tbl_page")
    c[3].markdown(f"**{len(t):,}** of {len(table):,} images match")
    c[4].button(f"Select all {len(t):,}", key="tbl_select_all", icon=":material/select_all:",
                help="Every matching image (all pages) becomes the current selection",
                disabled=not len(t), width="stretch", on_click=ui.set_selection,
                args=(ds, t["index"].to_numpy(), describe_filters(f)))
    shown = page_of(ds, t.iloc[(page - 1) * PER_PAGE: page * PER_PAGE], key="tbl")
    cfg = {"face": st.column_config.ImageColumn("face", width="small"),
           "index": st.column_config.NumberColumn("index", format="%d"),
           "row": st.column_config.NumberColumn("row", format="%d"),
           **{k: st.column_config.NumberColumn(k, format=v, help=HELP.get(k)) for k, v in FORMATS.items()
              if k in shown},
           **{k: st.column_config.Column(k, help=HELP[k]) for k in ("models' top-1", "models disagree") if k in shown}}
    ev = st.dataframe(shown, key=f"tbl_rows_{hash(sig) & 0xFFFFFF}_{page}", on_select="rerun",
                      selection_mode="multi-row", hide_index=True, column_config=cfg, height=560, row_height=52)
    checked = ev.selection.rows if ev is not None else []
    if checked:
        idx = shown["index"].to_numpy()[np.asarray(checked)]
        ui.offer_selection(ds, idx, f"{len(idx)} checked table row{'s' * (len(idx) != 1)}", key="tbl_rows")
    st.caption("Check rows to make them the current selection (sidebar), or select every matching image; then "
               "review them one by one on the Review page, or flag them all here.")


def selection_actions(ds, table: pd.DataFrame, flags) -> None:
    """Flag all of the current selection (with undo), and its export."""
    from fer_core.analysis.image_table import with_flags
    sel = ui.current_selection(ds)
    if sel is None:
        st.caption("No current selection: check rows above, or select every matching image.")
        return
    st.markdown(f"Current selection: {ui.selection_summary(sel)}")
    ui.flag_all(ds, flags, sel.indices, key="tbl_all")
    rows = table.iloc[sel.indices]
    ui.export_buttons(ds, sel.indices, lambda: with_flags(rows, flags.latest(ds.data_hash)),
                      key="tbl_export", name="selection")
