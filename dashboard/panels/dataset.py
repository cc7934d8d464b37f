"""The Dataset page's panels: what the face search found in a folder of photos.

A folder of photos is loaded with each photo's largest face cropped (:mod:`fer_core.data.faces`);
photos with no face are kept whole and photos with several faces keep their largest. This panel
counts both, lists them with thumbnails and file names, and makes either set the current
selection so Review shows them one by one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import ui
from fer_core.data.layouts import LAYOUTS

#: What each group means, for the counts line.
MEANING = {"no face": "the whole photo was used", "several faces": "the largest face was used"}


def photo_faces(ds) -> None:
    """Counts of the photos searched for a face, with none or several found; nothing for a CSV
    file or a folder of 48x48 face crops."""
    groups = ds.photo_faces()
    if not groups:
        return
    searched = int((ds.faces >= 0).sum())
    crops = len(ds) - searched
    layout = LAYOUTS[ds.layout].title if ds.layout in LAYOUTS else ds.layout
    st.markdown(f"**Faces in photos** (layout: {layout}): {searched:,} photos were searched for a face"
                + (f" ({crops:,} images were 48×48 face crops already)" if crops else "") + "; "
                + "; ".join(f"**{len(idx):,}** with {name} ({MEANING[name]})" for name, idx in groups.items()) + ".")
    found = {name: idx for name, idx in groups.items() if len(idx)}
    if not found:
        return
    cols = st.columns(len(found) + 1)
    for c, (name, idx) in zip(cols, found.items()):
        if c.button(f"Review the {len(idx):,} with {name}", key=f"ds_photos_{name}", icon=":material/rate_review:",
                    help="makes them the current selection (sidebar) and opens Review"):
            ui.set_selection(ds, idx, f"photos with {name}")
            try:
                st.switch_page(ui.PAGES_DIR / "review.py")
            except Exception:  # noqa: BLE001 - page run on its own (no navigation)
                st.info("Open the Review page: these photos are the current selection.")
    with st.expander("List the photos with no face or several faces"):
        for name, idx in found.items():
            st.markdown(f"**{len(idx):,} with {name}** ({MEANING[name]}); the face each one gives:")
            ui.show_grid(ds.images[idx[:40]], cols=10, captions=[str(i) for i in idx[:40]])
            st.dataframe(pd.DataFrame({"index": idx, "file": ds.paths[idx] if ds.paths is not None else "",
                                       "faces found": ds.faces[idx].astype(np.int64)}),
                         hide_index=True, key=f"ds_photos_list_{name}")
