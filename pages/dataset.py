"""Dataset: browse and filter every image page by page; class and pixel-intensity statistics."""

from dashboard import ui
from dashboard.panels import dataset as panels

import numpy as np
import streamlit as st

from fer_core.data import images as fimg
from fer_core.figures import data as data_figs
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS, SPLITS

FACES = {"all": "all images", "faces": "faces only", "not_face": "not a face only"}
ORDERS = {"source row": None, "contrast, lowest first": ("contrast", 1), "contrast, highest first": ("contrast", -1),
          "brightness, darkest first": ("brightness", 1), "brightness, brightest first": ("brightness", -1)}
SIZES = {"small (2×)": (2, 10), "large (3×)": (3, 6)}


@st.fragment
def browser(ds):
    """Filters, one page of thumbnails and the card of the selected image (reruns on its own)."""
    has_fp = ds.ferplus is not None
    no_fp = None if has_fp else "needs FER+ votes (fer2013new.csv)"
    c = st.columns(5)
    present = set(ds.split.tolist())
    splits = c[0].multiselect("Split", [s for s in SPLITS if s in present] + ([""] if "" in present else []),
                              format_func=lambda s: s or "(no split)", placeholder="all splits")
    labels = c[1].multiselect("FER2013 label", range(7), format_func=ui.label_name, placeholder="all labels")
    fpl = c[2].multiselect("FER+ majority", [*range(8), -1], disabled=not has_fp, help=no_fp, placeholder="any",
                           format_func=lambda j: FERPLUS_EMOTIONS[j] if j >= 0 else "no majority")
    agree = c[3].multiselect("FER+ vs FER2013 label", fimg.AGREEMENT, disabled=not has_fp, placeholder="any",
                             help=no_fp or "agree: FER+ majority = FER2013 label; disagree: a different "
                                           "majority (contempt included); no majority: split or unknown votes")
    faces = c[4].selectbox("Not a face (FER+)", list(FACES), format_func=FACES.get, disabled=not has_fp, help=no_fp)
    idx = np.flatnonzero(fimg.filter_mask(ds, splits=splits, labels=labels, ferplus_labels=fpl, agreement=agree,
                                          faces=faces))
    c = st.columns([1.3, 1, 1, 1, 2.2], vertical_alignment="bottom")
    order = c[0].selectbox("Order", list(ORDERS))
    if ORDERS[order] and len(idx):
        col, sign = ORDERS[order]
        idx = idx[np.argsort(sign * ui.pixel_stats(ds)[col].to_numpy()[idx], kind="stable")]
    scale, cols = SIZES[c[1].selectbox("Thumbnails", list(SIZES))]
    per_page = c[2].selectbox("Per page", [cols * 6, cols * 8, cols * 12], index=1)
    n_pages = max(1, -(-len(idx) // per_page))
    sig = (tuple(splits), tuple(labels), tuple(fpl), tuple(agree), faces, order, per_page)
    if st.session_state.get("_ds_sig") != sig:  # new filters: back to page 1
        st.session_state._ds_sig, st.session_state.ds_page = sig, 1
    st.session_state.ds_page = min(st.session_state.get("ds_page", 1), n_pages)
    page = c[3].number_input(f"Page (of {n_pages:,})", 1, n_pages, key="ds_page")
    c[4].markdown(f"**{len(idx):,}** of {len(ds):,} images match")
    show = idx[(page - 1) * per_page: page * per_page]
    caps, colors = ui.grid_captions(ds, show)
    picked = ui.show_grid(ds.images[show], cols=cols, scale=scale, captions=caps, caption_colors=colors, ids=show,
                          key="ds_grid")
    st.caption("Click a face to open its card. Caption: dataset index and FER2013 label. :red[Red]: the FER+ "
               "majority disagrees; grey: FER+ has no majority.")
    if picked is not None:
        ui.open_card(ds, picked)


def class_distribution(ds):
    options = ["FER2013 label"] + (["FER+ majority"] if ds.ferplus is not None else [])
    c = st.columns([1.5, 1.5, 2])
    which = c[0].radio("Labels", options, horizontal=True)
    norm = c[1].radio("Bars", ["images", "share of split"], horizontal=True)
    if which == "FER2013 label":
        counts = fimg.split_class_counts(ds.split, ds.labels, FER2013_EMOTIONS)
    else:
        counts = fimg.split_class_counts(ds.split, ds.ferplus.majority, FERPLUS_EMOTIONS)
        counts = counts.rename(index={"none": "no majority"})
    st.altair_chart(data_figs.split_counts_chart(counts, height=340, share=norm != "images"), key="ds_dist")
    ui.show_counts(counts)


def pixel_statistics(ds):
    stats = ui.pixel_stats(ds)
    present = [c for c in range(7) if (ds.labels == c).any()]
    left, right = st.columns(2)
    for col, name, where in (("brightness", "Brightness (mean pixel, 0–255)", left),
                             ("contrast", "Contrast (pixel std)", right)):
        b = fimg.box_stats(stats[col].to_numpy(), ds.labels, 7).iloc[present]
        where.altair_chart(data_figs.box_chart(b, [FER2013_EMOTIONS[c] for c in present],
                                                   [ui.CLASS_COLORS[c] for c in present], title=name), key=f"ds_box_{col}")
    hist = ui.class_histograms(ds)
    centers = (np.arange(hist.shape[1]) + 0.5) * 256 / hist.shape[1]
    st.altair_chart(data_figs.lines_chart(centers, {FER2013_EMOTIONS[c]: hist[c] for c in present},
                                              [ui.CLASS_COLORS[c] for c in present], x_title="intensity",
                                              title="Pixel-intensity histogram per FER2013 class (share of pixels)"),
                    key="ds_hist")
    contrast = stats["contrast"].to_numpy()
    st.markdown(f"**Lowest-contrast images**: {(contrast < 1).sum():,} images are uniform (std < 1), "
                "usually blank rows worth dropping")
    low = np.argsort(contrast, kind="stable")[:10]
    ui.show_grid(ds.images[low], cols=10, captions=[f"{i} std {stats.contrast[i]:.1f}" for i in low])


st.title("Dataset")
dataset = ui.current_dataset()
st.caption(f"{len(dataset):,} images from `{dataset.source}`. Only the current page of thumbnails is sent "
           "to the browser.")
panels.photo_faces(dataset)  # a folder of photos: how many had no face or several
# Lazy tabs: only the open tab runs and goes to the browser (its charts and images are not built,
# sent and drawn for nothing; a new tab's first paint has no chart library to load).
for tab, body in zip(st.tabs(["Browse", "Class distribution", "Pixel statistics"], key="ds_tab", on_change="rerun"),
                     (browser, class_distribution, pixel_statistics)):
    if tab.open:
        with tab:
            body(dataset)
