"""All images: every image in one table (labels, FER+, prediction, loss, scores, duplicates, flags);
sort, filter, page through; checked rows become the current selection; flag all with undo."""

from dashboard import ui
from dashboard.panels import table as panels

import streamlit as st

st.title("All images")
ds = ui.current_dataset()
models = ui.shipped_models()
model = st.sidebar.selectbox("Model (predictions, scores)", models, key="tbl_model") if models else None
flags = ui.flag_store()
if flags.adopt(ds.data_hash, ds.previous_hashes):  # decisions recorded under this data's earlier hash
    st.toast("Earlier decisions on this data were carried over to its new data hash.")
table, notes = ui.image_table(ds, model)
st.caption(f"{len(ds):,} images from `{ds.source}`, {panels.PER_PAGE} rows per page: only the shown page's "
           "thumbnails are made and sent.")
for n in notes:
    st.caption(f":material/info: Column missing, {n}")
panels.table_view(ds, table, flags)

st.subheader("Current selection")
panels.selection_actions(ds, table, flags)
