"""The data source: the sidebar picker, and the dataset every page shows (:func:`current_dataset`).

Every page gets its data through :func:`current_dataset`, so a page also runs on its own
(``AppTest.from_file("pages/dataset.py")``) with the source saved in ``cache/settings.json``.
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from fer_core.data.dataset import DataError, Dataset, load_dataset
from fer_core.store import Store

DASHBOARD_DIR = Path(__file__).resolve().parent.parent
ROOT = DASHBOARD_DIR.parent
PAGES_DIR = ROOT / "pages"
SETTINGS = "settings.json"
SAMPLE = {"kind": "sample", "path": "", "ferplus": ""}


def store() -> Store:
    """The artifact store (honours $FER_CACHE_DIR at call time)."""
    return Store()


def saved_source() -> dict:
    """The data source remembered in cache/settings.json (the bundled sample by default)."""
    src = store().read_json(SETTINGS, {}).get("data_source")
    return {**SAMPLE, **src} if isinstance(src, dict) else dict(SAMPLE)


def save_source(src: dict) -> None:
    """Remember `src` ({kind, path, ferplus}) in cache/settings.json for the next session."""
    settings = store().read_json(SETTINGS, {})
    settings = settings if isinstance(settings, dict) else {}
    settings["data_source"] = {k: src.get(k, "") for k in SAMPLE}
    store().write_json(SETTINGS, settings)


def _stamp(path: str) -> tuple:
    try:
        s = os.stat(path)
        return (s.st_mtime_ns, s.st_size)
    except OSError:
        return ()


@st.cache_resource(show_spinner=False, max_entries=4)
def _load(path: str, ferplus: str, stamp: tuple, fp_stamp: tuple, cache_root: str):
    """(Dataset, None) or (None, error message). A resource, not data: the full set is 83 MB of
    pixels that every page shares read-only, so it is not copied on each call. Errors are
    returned, not raised, so a bad file is not parsed again on every rerun."""
    try:
        return load_dataset(path or None, ferplus or None, store=Store(cache_root)), None
    except DataError as e:
        return None, str(e)
    except (OSError, ValueError) as e:  # anything else the readers did not foresee
        return None, f"{Path(path).name}: {type(e).__name__}: {e}"


def load_source(src: dict) -> tuple[Dataset | None, str | None]:
    """Load a source dict ({kind, path, ferplus}) through the cache; (dataset, error)."""
    if src.get("kind") != "path":
        return _load("", "", (), (), str(store().root))
    path, fp = src.get("path", "").strip(), src.get("ferplus", "").strip()
    if not path:
        return None, "no file or folder given"
    return _load(path, fp, _stamp(path), _stamp(fp) if fp else (), str(store().root))


def current_source() -> dict:
    """This session's data source ({kind, path, ferplus}; the saved one on a session's first run)."""
    if "data_source" not in st.session_state:
        st.session_state.data_source = saved_source()
    return st.session_state.data_source


def source_files(ds: Dataset) -> tuple[str | None, str | None]:
    """(data path, FER+ path or None) when `ds` was loaded from the file the sidebar names, for
    the shell commands the pages show; (None, None) for the bundled sample, also when it is
    shown as a fallback for a file that failed to load."""
    src = current_source()
    if src["kind"] == "path" and ds.source == src["path"]:
        return src["path"], src["ferplus"] or None
    return None, None


def current_dataset() -> Dataset:
    """The dataset every page shows. A source that fails to load shows st.error with the
    reader's message and falls back to the bundled sample."""
    src = current_source()
    with st.spinner("Loading data (the first load of the full FER2013 takes about 10 s; a folder of photos is "
                    "searched for faces once, about 0.1-0.3 s a photo: `python -m fer_core.data FOLDER` does it "
                    "with a progress bar)..."):
        ds, err = load_source(src)
    if err:
        what = f"`{src['path']}`" if src.get("path") else "the data source"
        st.error(f"Could not load {what}: {err}  \nShowing the bundled sample instead.",
                 icon=":material/error:")
        ds, _ = load_source(SAMPLE)
    return ds


def data_source_sidebar() -> None:
    """Sidebar form: bundled sample, or a FER2013 csv / image folder / Parquet plus optional FER+ votes."""
    src = current_source()
    with st.sidebar.form("data_source_form", border=False):
        st.subheader("Data source")
        kind = st.radio("Data source", ["Bundled sample", "File or folder"], label_visibility="collapsed",
                        index=int(src["kind"] == "path"), key="src_kind",
                        help="The bundled sample: 1,000 images stratified by split and class, with FER+ votes.")
        path = st.text_input("fer2013.csv[.gz], image folder or Parquet", value=src["path"], key="src_path",
                             placeholder="/data/fer2013.csv.gz",
                             help="A FER2013-format CSV; a folder of faces or photos (emotion folders, RAF-DB, "
                                  "AffectNet, CK+ layouts); or a .parquet file / folder of them with an `image` "
                                  "column, as `python -m fer_core.distributed` reads.")
        fp = st.text_input("FER+ votes: fer2013new.csv (optional)", value=src["ferplus"], key="src_ferplus",
                           placeholder="/data/fer2013new.csv")
        if st.form_submit_button("Load", type="primary", width="stretch"):
            new = {"kind": "path" if kind == "File or folder" else "sample", "path": path.strip(),
                   "ferplus": fp.strip()}
            st.session_state.data_source = new
            with st.spinner("Loading..."):
                ds, err = load_source(new)
            if not err:
                save_source(new)
    ds, err = load_source(current_source())
    if err:
        st.sidebar.caption(":red[:material/error: Load failed; showing the bundled sample.]")
    elif ds is not None:
        where = f"$FER_CACHE_DIR/{SETTINGS}" if os.environ.get("FER_CACHE_DIR") else f"cache/{SETTINGS}"
        st.sidebar.caption(f"{len(ds):,} images · {'FER+ votes' if ds.ferplus is not None else 'no FER+ votes'}"
                           f"  \nremembered in `{where}`")
