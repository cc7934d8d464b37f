"""Review: the current selection one face at a time, decided with the keyboard; flag all, export."""

from dashboard import ui
from dashboard.panels import review as panels

import streamlit as st

from fer_core.analysis.image_table import with_flags

st.title("Review")
ds = ui.current_dataset()
sel = ui.current_selection(ds)
models = ui.shipped_models()
model = st.sidebar.selectbox("Model (predictions)", models, key="rv_model") if models else None
if sel is None:
    if (w := ui.selection_warning()) is not None:
        st.warning(w, icon=":material/link_off:")
    st.info("No images are selected. Select a group with a box or lasso on the Embeddings map, click a cell of "
            "the Model page's confusion matrix, or check rows (or select every filtered row) on All images; then "
            "come back here. A link with `?sel=...` opens with its selection.", icon=":material/select_all:")
    st.stop()

st.caption(f"{ui.selection_summary(sel)}. The bookmark of this page keeps the selection.")
flags = ui.flag_store()
if flags.adopt(ds.data_hash, ds.previous_hashes):  # decisions recorded under this data's earlier hash
    st.toast("Earlier decisions on this data were carried over to its new data hash.")
table, notes = ui.image_table(ds, model)
pred = ui.artifact("predictions", ds, model=model) if "prediction" in table else None
panels.reviewer(ds, sel, flags, pred)

with st.expander(f"All {len(sel):,} selected images: flag all, export", icon=":material/checklist:"):
    ui.flag_all(ds, flags, sel.indices, key="rv_all")
    rows = table.iloc[sel.indices]  # the decisions are read when the CSV is clicked (made in the fragment above)
    ui.export_buttons(ds, sel.indices, lambda: with_flags(rows, flags.latest(ds.data_hash)), key="rv_export",
                      name="selection")
    for n in notes:
        st.caption(f"Not in the CSV: {n}")
