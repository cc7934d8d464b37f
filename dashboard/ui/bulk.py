"""What to do with a whole set of images (the current selection, checked table rows): flag them all
with one decision (and undo that), and export them as a CSV of rows or a zip of PNGs in
``<label>/<row>.png`` folders. Shared by the Review and All images pages."""
from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.constants import FER2013_EMOTIONS
from fer_core.data import images as fimg
from fer_core.data.dataset import Dataset
from fer_core.data.flags import DECISIONS, FlagError

#: Button text of each decision.
DECISION_TEXT = {"mislabeled": "Mislabeled", "not_error": "Not an error", "not_face": "Not a face",
                 "duplicate": "Duplicate"}


def _flag_all(ds: Dataset, flags, indices: np.ndarray, decision: str, label, key: str) -> None:
    try:
        ids = flags.add_many(data_hash=ds.data_hash, rows=ds.row[indices], decision=decision, label=label)
    except FlagError as e:
        st.session_state[f"{key}_error"] = str(e)
        return
    st.session_state[f"{key}_batch"] = {"ids": ids, "decision": decision}


def _undo_all(ds: Dataset, flags, key: str) -> None:
    batch = st.session_state.pop(f"{key}_batch", None)
    if batch:
        n = flags.remove(data_hash=ds.data_hash, ids=batch["ids"])
        st.session_state[f"{key}_undone"] = n


def flag_all(ds: Dataset, flags, indices: np.ndarray, *, key: str, what: str = "selected") -> None:
    """A decision (and corrected label) for every image of `indices` in one transaction, and an
    undo of exactly that batch (the decisions before it come back)."""
    if (err := st.session_state.pop(f"{key}_error", None)) is not None:
        st.error(f"Nothing was flagged: {err}")
    if (n := st.session_state.pop(f"{key}_undone", None)) is not None:
        st.toast(f"Undid {n:,} decisions.")
    c = st.columns([1.3, 1.1, 1.5, 1.5], vertical_alignment="bottom")
    decision = c[0].selectbox("Decision for all", DECISIONS, format_func=DECISION_TEXT.get, key=f"{key}_decision")
    label = c[1].selectbox("Corrected label", [None, *range(len(FER2013_EMOTIONS))], key=f"{key}_label",
                           format_func=lambda k: "—" if k is None else FER2013_EMOTIONS[k],
                           disabled=decision != "mislabeled")
    c[2].button(f"Flag all {len(indices):,} {what}", key=f"{key}_go", icon=":material/flag:",
                disabled=not len(indices), on_click=_flag_all, width="stretch",
                args=(ds, flags, indices, decision, label if decision == "mislabeled" else None, key))
    batch = st.session_state.get(f"{key}_batch")
    c[3].button(f"Undo flag all ({len(batch['ids']):,} {DECISION_TEXT[batch['decision']].lower()})" if batch
                else "Undo flag all", key=f"{key}_undo", icon=":material/undo:", disabled=not batch,
                on_click=_undo_all, args=(ds, flags, key), width="stretch")


def rows_csv(table: pd.DataFrame) -> str:
    """The rows of an image table (:func:`fer_core.analysis.image_table.image_table`) as CSV text."""
    return table.to_csv(index=False, float_format="%.4g")


def _zip(ds: Dataset, indices: np.ndarray) -> bytes:
    names = np.array(FER2013_EMOTIONS + ("unlabeled",))
    labels = names[np.where(ds.labels[indices] >= 0, ds.labels[indices], len(FER2013_EMOTIONS))]
    return fimg.png_zip(ds.images[indices], labels.tolist(), [str(r) for r in ds.row[indices]])


def _rows_csv_now(table: pd.DataFrame | Callable[[], pd.DataFrame]) -> str:
    return rows_csv(table() if callable(table) else table)


def export_buttons(ds: Dataset, indices: np.ndarray, table: pd.DataFrame | Callable[[], pd.DataFrame], *, key: str,
                   name: str = "selection") -> None:
    """Download buttons: `table` (the images' rows, one per index of `indices`) as CSV, and the
    images as a zip of PNGs in ``<FER2013 label>/<source row>.png`` folders. Both are built when
    clicked: pass `table` as a function (``lambda: with_flags(rows, flags.latest(h))``) when it
    changes without a full rerun (decisions made in a fragment), so the CSV holds the current ones."""
    a, b = st.columns(2)
    a.download_button(f"Rows as CSV ({len(indices):,})", functools.partial(_rows_csv_now, table),
                      file_name=f"{name}.csv", mime="text/csv", icon=":material/download:", key=f"{key}_csv",
                      on_click="ignore", width="stretch", disabled=not len(indices))
    b.download_button(f"Images as zip of PNGs ({len(indices):,})", functools.partial(_zip, ds, np.asarray(indices)),
                      file_name=f"{name}.zip", mime="application/zip", icon=":material/folder_zip:",
                      key=f"{key}_zip", on_click="ignore", width="stretch", disabled=not len(indices))
