"""The Label errors page's panels: the review panel beside a ranked gallery, the flags table
(decisions editable in place), and the duplicate groups. The rankings are computed in
:mod:`fer_core.analysis.label_errors`; decisions are kept by :class:`fer_core.data.flags.FlagStore`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import ui
from fer_core.constants import FER2013_EMOTIONS
from fer_core.data import images as fimg
from fer_core.data.flags import DECISIONS, FlagError
from fer_core.figures import face as face_figs

PER_PAGE = 24
DECISION_TEXT = ui.DECISION_TEXT
#: Caption prefix of a reviewed face: plain text every font draws (⧉ was an empty box in some).
DECISION_MARK = {"mislabeled": "[mislabeled] ", "not_error": "[ok] ", "not_face": "[no face] ", "duplicate": "[dup] "}
#: Columns of the flags table, in order (row: the source file's; index: the galleries' #N); the editable
#: ones are decision, corrected_label and note.
FLAG_COLUMNS = ["face", "row", "index", "original_label", "decision", "corrected_label", "note", "time"]


@dataclass
class Review:
    """What the review panels read: the dataset, its rankings, the flag store and the current
    decisions (``flags.latest(ds.data_hash)`` indexed by source row, read once per run)."""

    ds: object
    res: dict
    flags: object
    latest: pd.DataFrame

    def decision_of(self, row: int) -> str:
        """The current decision on source row `row` ('' when not reviewed)."""
        return str(self.latest.loc[row, "decision"]) if row in self.latest.index else ""

    def mark(self, i: int) -> str:
        """A caption prefix showing image `i`'s current decision (:data:`DECISION_MARK`, or nothing)."""
        return DECISION_MARK.get(self.decision_of(int(self.ds.row[i])), "")


def review_panel(rv: Review, i: int, key: str) -> None:
    """The picked image large, its probabilities and FER+ votes, and the decision buttons."""
    ds, flags = rv.ds, rv.flags
    row, lab = int(ds.row[i]), int(ds.labels[i])
    sug = int(rv.res["suggested"][i])
    st.markdown(f"**Image #{i}** · source row {row} · {ds.split[i] or '—'}  \n"
                f"given **{ui.label_name(lab)}** · suggested **{ui.label_name(sug)}**"
                + (f"  \ncurrent decision: **{DECISION_TEXT[rv.decision_of(row)]}**" if rv.decision_of(row) else ""))
    ui.show_face(ds.images[i], scale=4)
    st.altair_chart(face_figs.class_probs_chart(rv.res["pred_probs"][i], FER2013_EMOTIONS, label=lab, step=18),
                    key=f"{key}_probs_{i}")
    if ds.ferplus is not None:
        st.altair_chart(ui.votes_chart(ds, i), key=f"{key}_votes_{i}")
    corr = st.selectbox("Corrected label", FER2013_EMOTIONS, index=max(sug, 0), key=f"{key}_corr_{i}")
    note = st.text_input("Note (optional)", key=f"{key}_note_{i}", max_chars=500)
    cols = st.columns(2)
    for j, d in enumerate(DECISIONS):
        if cols[j % 2].button(DECISION_TEXT[d], key=f"{key}_{d}_{i}", width="stretch",
                              type="primary" if d == "mislabeled" else "secondary"):
            try:
                flags.add(data_hash=ds.data_hash, row=row, decision=d,
                          label=FER2013_EMOTIONS.index(corr) if d == "mislabeled" else None, note=note)
            except FlagError as e:
                st.error(str(e))
            else:
                st.session_state[f"{key}_advance"] = True
                st.rerun()
    if st.button("Saliency maps of this image", icon=":material/local_fire_department:", key=f"{key}_sal_{i}"):
        st.session_state["selected_row"] = i
        try:
            st.switch_page(ui.PAGES_DIR / "saliency.py")
        except Exception:  # page run on its own (no navigation)
            st.info("Open the Saliency page: this image is selected there.")


def ranked_gallery(rv: Review, order: np.ndarray, captions, key: str) -> None:
    """Paged thumbnails of `order` (dataset indices, most suspicious first) beside the review panel.
    `captions(positions)` gives the captions of those positions of `order` (only the shown page's
    are built: the full data has 35,887)."""
    if len(order) == 0:
        st.info("No images match the filters.")
        return
    pages = (len(order) + PER_PAGE - 1) // PER_PAGE
    page = st.number_input(f"Page (of {pages}, {PER_PAGE} images each)", 1, pages, 1, key=f"{key}_page") - 1
    shown = order[page * PER_PAGE:(page + 1) * PER_PAGE]
    if st.session_state.pop(f"{key}_advance", False) or not (order == st.session_state.get(key, -1)).any():
        nxt = [j for j in shown if not rv.decision_of(int(rv.ds.row[j]))]
        st.session_state[key] = int(nxt[0] if nxt else shown[0])
    left, right = st.columns([2.2, 1])
    with left:
        caps = captions(np.arange(page * PER_PAGE, page * PER_PAGE + len(shown)))
        ui.pick_gallery(rv.ds.images, shown, caps, key=key, selected=st.session_state[key])
    with right, st.container(border=True):
        review_panel(rv, st.session_state[key], key)


# ---- the flags table ---------------------------------------------------------------------------
def flags_table(ds, latest: pd.DataFrame) -> pd.DataFrame:
    """Every current decision on `ds` (`latest` = ``flags.latest(ds.data_hash)``, one row per image)
    as the table the Flags tab shows: :data:`FLAG_COLUMNS`, labels as class names (None: no
    corrected label; "?" for an original label, None for the index and face, of a row not in `ds`)."""
    pos = {int(r): i for i, r in enumerate(ds.row)}
    return latest.assign(
        face=[fimg.png_data_uri(ds.images[pos[r]]) if r in pos else None for r in latest["row"]],
        index=pd.array([pos.get(int(r)) for r in latest["row"]], dtype="Int64"),
        original_label=[ui.label_name(int(ds.labels[pos[r]])) if r in pos else "?" for r in latest["row"]],
        corrected_label=[None if pd.isna(v) else FER2013_EMOTIONS[int(v)] for v in latest["label"]],
        time=pd.to_datetime(latest["time"]).dt.strftime("%Y-%m-%d %H:%M UTC"))[FLAG_COLUMNS]


def table_edits(shown: pd.DataFrame, edited_rows: dict) -> list[dict]:
    """The decisions to record for the cells edited in the flags table.

    Args:
        shown: the table as shown (:func:`flags_table`).
        edited_rows: ``{position in shown: {column: new value}}`` (st.data_editor's ``edited_rows``).

    Returns:
        [{"row", "decision", "label", "note"}] for ``FlagStore.add``, one per changed table row, in
        table order. A row whose decision changes away from 'mislabeled' drops its corrected label;
        a corrected label typed on any other decision is passed on, so the store refuses it.
    """
    def text(v):  # an empty cell (None, NaN or "") -> None
        return None if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" else str(v)

    out = []
    for p, change in sorted((int(k), v) for k, v in edited_rows.items()):
        old = shown.iloc[p]
        was = (str(old["decision"]), text(old["corrected_label"]), text(old["note"]) or "")
        decision = text(change.get("decision")) or was[0]
        if "corrected_label" in change:
            label = text(change["corrected_label"])
        else:
            label = was[1] if decision == "mislabeled" else None
        note = text(change.get("note", was[2])) or ""
        if (decision, label, note) != was:
            out.append({"row": int(old["row"]), "decision": decision, "label": label, "note": note})
    return out


def save_table_edits(ds, flags, shown: pd.DataFrame, edited_rows: dict) -> list[str]:
    """Record each row edited in the flags table as a new decision on `ds` (``flags.add``: the same
    validation as the review buttons, and Undo takes it back). Returns the refusals, one message
    per refused row (the other rows are saved)."""
    errors = []
    for f in table_edits(shown, edited_rows):
        try:
            flags.add(data_hash=ds.data_hash, **f)
        except FlagError as e:
            errors.append(f"row {f['row']}: {e}")
    return errors


def _on_table_edit(ds, flags, shown: pd.DataFrame, key: str) -> None:
    """on_change of the flags table: save the edits, then show a fresh table over the saved decisions."""
    edited = (st.session_state.get(key) or {}).get("edited_rows", {})
    st.session_state["flags_edit_errors"] = save_table_edits(ds, flags, shown, edited)
    st.session_state["flags_table_version"] = st.session_state.get("flags_table_version", 0) + 1


def flags_panel(ds, flags, latest: pd.DataFrame, counts: dict) -> None:
    """Every current decision on `ds` (`latest` = flags.latest(), `counts` = flags.counts(), as
    the page read them) as an editable table, CSV export and import, and the full history."""
    st.caption(" · ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in counts.items()))
    for e in st.session_state.pop("flags_edit_errors", []):
        st.error(f"{e}; not saved.")
    if len(latest):
        shown = flags_table(ds, latest)
        key = f"flags_table_{st.session_state.get('flags_table_version', 0)}"
        st.data_editor(shown, key=key, hide_index=True, width="stretch", num_rows="fixed",
                       disabled=["face", "row", "index", "original_label", "time"], on_change=_on_table_edit,
                       args=(ds, flags, shown, key), column_config={
                           "face": st.column_config.ImageColumn("face", width="small"),
                           "row": st.column_config.NumberColumn("source row", format="%d", help="Row of the "
                                                                "source file, as in the flags CSV."),
                           "index": st.column_config.NumberColumn("dataset index", format="%d", help="The #number "
                                                                  "the galleries show."),
                           "decision": st.column_config.SelectboxColumn(options=list(DECISIONS), required=True),
                           "corrected_label": st.column_config.SelectboxColumn(options=list(FER2013_EMOTIONS)),
                           "note": st.column_config.TextColumn(max_chars=500)})
        st.caption("Change a decision, corrected label or note in the table: each change is saved as a new "
                   "decision (Undo last decision takes it back).")
        try:
            csv_text = flags.export_csv(ds.data_hash, ds.labels, rows=ds.row)
        except FlagError as e:
            st.error(str(e))
        else:
            st.download_button("Export flags CSV (row, original label, corrected label)", csv_text,
                               file_name="flags.csv", mime="text/csv", icon=":material/download:")
        st.caption("Train with them: `python -m fer_core.train --data ... --label-corrections flags.csv "
                   "[--exclude-flagged]`.")
    else:
        st.info("No decisions yet: review images in the other tabs, or import a flags CSV.")
    up = st.file_uploader("Import a flags CSV (columns row, decision; optional corrected_label, note)",
                          type=["csv"], key="flags_import")
    if up is not None and st.button("Import these decisions", key="flags_import_go"):
        try:
            n = flags.import_csv(ds.data_hash, up.getvalue().decode("utf-8-sig"), n_rows=int(ds.row.max()) + 1,
                                 rows=ds.row)
        except UnicodeDecodeError:
            st.error(f"{up.name}: not a UTF-8 text file; nothing was imported.")
        except FlagError as e:
            st.error(f"{up.name}: {e}; nothing was imported.")
        else:
            st.success(f"Imported {n:,} decisions from {up.name}.")
    with st.expander("Full history (every decision, newest last)"):
        st.dataframe(flags.history(ds.data_hash), hide_index=True, width="stretch")


# ---- duplicates --------------------------------------------------------------------------------
def duplicates_panel(ds) -> None:
    """Exact or near-duplicate groups: train/test leakage per split, the groups (conflicting labels
    first) and the faces of a chosen group."""
    from fer_core.analysis import duplicates as dup
    near = st.radio("Duplicates", ["pixel-identical", "near-identical (re-encoded, shifted, re-lit copies)"],
                    horizontal=True, key="dup_kind").startswith("near")
    groups = ui.artifact("duplicate_groups", ds, kind="near" if near else "exact")["groups"]
    table = dup.duplicate_table(groups, ds.labels, ds.split, ds.row)
    if table.empty:
        st.info("No duplicates in this dataset.")
        return
    c = st.columns(3)
    c[0].metric("Groups", f"{len(table):,}", help=f"{int(table['size'].sum()):,} images in them")
    c[1].metric("Groups with conflicting labels", f"{int(table['conflicting_labels'].sum()):,}")
    c[2].metric("Groups across Training and a test split", f"{int(table['crosses_train_test'].sum()):,}")
    if (ds.split != "").any():
        st.markdown("**Train/test leakage**: test images with a copy in Training")
        st.dataframe(dup.leakage(groups, ds.split), hide_index=True,
                     column_config={"share": st.column_config.NumberColumn(format="percent")})
    table = table.sort_values(["conflicting_labels", "size"], ascending=False)
    if st.toggle("Only groups with conflicting labels", key="dup_conf"):
        table = table[table["conflicting_labels"]]
    shown = table.head(500).assign(rows=lambda t: t["rows"].map(lambda r: ", ".join(map(str, r))),
                                   labels=lambda t: t["labels"].map(lambda r: ", ".join(ui.label_name(int(x)) for x in r)),
                                   splits=lambda t: t["splits"].map(", ".join)).drop(columns=["indices"])
    ev = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                      key="dup_table", height=280)
    st.caption(f"{len(table):,} groups{' (first 500 shown)' if len(table) > 500 else ''}; select one to see its faces.")
    picked = ev.selection.rows if ev is not None else []
    if picked:
        members = np.asarray(table.iloc[picked[0]]["indices"])
        ui.show_grid(ds.images[members], cols=min(len(members), 8), scale=3,
                  captions=[f"#{i} {ui.label_name(int(ds.labels[i]))} {ds.split[i][:5]}" for i in members])
