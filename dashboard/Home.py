"""FER Explorer: entry point and overview page.

    streamlit run dashboard/Home.py        (from the repository root, so .streamlit/ is read)

Adding a page: put `pages/<name>.py` next to the others and add one line to PAGES.
"""
import time

from dashboard import ui

import streamlit as st

from fer_core.data import images as fimg
from fer_core.pipeline import prepare
from fer_core.figures import data as data_figs
from fer_core.constants import FER2013_EMOTIONS

#: (file in pages/, title, icon, one-line description). One line per page.
PAGES = [
    ("dataset.py", "Dataset", ":material/grid_view:", "browse and filter every image, class and pixel statistics"),
    ("eigenfaces.py", "Eigenfaces", ":material/face:", "mean faces, principal components, reconstructions"),
    ("model.py", "Model", ":material/model_training:", "metrics, confusion matrix, calibration, training curves, baselines"),
    ("embeddings.py", "Embeddings", ":material/scatter_plot:", "UMAP / t-SNE map of the model's features: click a face, lasso a group"),
    ("saliency.py", "Saliency", ":material/local_fire_department:", "Captum maps per image and per class, with a sanity check"),
    ("review.py", "Review", ":material/rate_review:", "the current selection one face at a time, decided with the keyboard; flag all, export"),
    ("table.py", "All images", ":material/table_rows:", "every image in one sortable, filterable table: scores, flags; select rows"),
    ("label_errors.py", "Label errors", ":material/rule:", "ranked gallery of likely mislabeled images, non-faces and duplicates; flag, undo, export"),
    ("try_a_face.py", "Try a face", ":material/add_a_photo:", "upload or take a photo: faces found, expressions, saliency"),
    ("robustness.py", "Robustness", ":material/shield:", "accuracy under noise, blur, occlusion, lighting and attacks, with error bars"),
    ("experiments.py", "Experiments", ":material/science:", "learning curve over training-set size; accuracy vs cost of every model"),
]
#: Artifact stages short enough to build from the dashboard; the others show their command.
QUICK_STAGES = {"eigenfaces": "about 1 s on the sample, 20 s on the full FER2013"}


def overview() -> None:
    st.title("FER Explorer")
    st.caption("Facial-expression recognition data explorer: FER2013 faces (48×48 grey) with the "
               "FER+ crowd votes (10 annotators per image).")
    ds = ui.current_dataset()
    s = ds.summary()
    cols = st.columns(5)
    cols[0].metric("Images", f"{len(ds):,}", help=f"Source: {ds.source}")
    for c, name in zip(cols[1:4], ("Training", "PublicTest", "PrivateTest")):
        c.metric(name, f"{s['splits'].get(name, {}).get('total', 0):,}")
    fp = s.get("ferplus")
    cols[4].metric("FER+ agrees with FER2013", f"{fp['agreement_rate']:.1%}" if fp else "no FER+",
                   help="Share of images with a FER+ majority in the 7 FER2013 classes whose FER2013 "
                        "label equals that majority.")
    st.caption(f"Source: `{ds.source}` · data hash `{ds.data_hash[:12]}`")

    st.subheader("Images per split and class")
    counts = fimg.split_class_counts(ds.split, ds.labels, FER2013_EMOTIONS)
    left, right = st.columns([1, 1.4])
    with left:
        ui.show_counts(counts)
    right.altair_chart(data_figs.split_counts_chart(counts, height=260), key="home_counts")

    if fp:
        st.subheader("FER+ crowd labels")
        st.caption(f"{fp['no_majority']:,} images have no FER+ majority (split votes or 'unknown'); "
                   f"{fp['not_face']:,} were judged not a face. Rows: FER2013 label; columns: FER+ majority.")
        xt = fimg.ferplus_crosstab(ds.labels, ds.ferplus.majority)
        st.altair_chart(data_figs.crosstab_chart(xt, row_title="FER2013 label", col_title="FER+ majority"),
                        key="home_crosstab")

    st.subheader("Artifacts")
    status = prepare.stage_status(ds, ui.store())
    for name, ok in status.items():
        desc = prepare.STAGES[name].description
        st.markdown(f"{':green[:material/check_circle:]' if ok else ':orange[:material/pending:]'} "
                    f"**{name}**: {desc} — {'ready' if ok else 'missing'}")
    missing = [n for n, ok in status.items() if not ok]
    if missing:
        cmd = prepare.prepare_command(*ui.source_files(ds))
        st.markdown("Build the missing artifacts from the repository root with:")
        st.code(cmd, language="bash")
        quick = [n for n in missing if n in QUICK_STAGES]
        if quick and st.button(f"Build {', '.join(quick)} now ({'; '.join(QUICK_STAGES[n] for n in quick)})",
                               icon=":material/build:"):
            bar = st.progress(0.0, text="Starting...")
            for k, name in enumerate(quick):
                bar.progress(k / len(quick), text=f"Building {name}...")
                t0 = time.perf_counter()
                with st.spinner(f"Building {name}..."):
                    prepare.run(ds, ui.store(), only=[name], log=lambda *_: None)
                st.toast(f"{name} built in {time.perf_counter() - t0:.1f} s")
            bar.progress(1.0, text="Done")
            st.rerun()
    else:
        st.caption("Every artifact for this data is built.")

    st.subheader("Pages")
    for page, (_, title, icon, text) in zip(NAV_PAGES[1:], PAGES):
        st.page_link(page, label=f"**{title}**: {text}", icon=icon)


st.set_page_config(layout="wide", page_title="FER Explorer", page_icon=":material/mood:")
NAV_PAGES = [st.Page(overview, title="Home", icon=":material/home:", default=True)] + [
    st.Page(ui.PAGES_DIR / f, title=t, icon=i) for f, t, i, _ in PAGES]
nav = st.navigation(NAV_PAGES)
ui.data_source_sidebar()
ui.selection_sidebar(review_page=NAV_PAGES[1 + [p[0] for p in PAGES].index("review.py")])
nav.run()
