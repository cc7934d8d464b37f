"""Shared dashboard widgets: data-source picker, cached loaders, image grid, image card.

Every page gets its data through :func:`current_dataset`, so a page also runs on its own
(``AppTest.from_file("pages/dataset.py")``) with the source saved in ``cache/settings.json``.
Pages import it as ``from dashboard import ui`` (the package is installed by requirements.txt).
"""
from __future__ import annotations

import os
from pathlib import Path

DASHBOARD_DIR = Path(__file__).resolve().parent.parent
ROOT = DASHBOARD_DIR.parent
PAGES_DIR = ROOT / "pages"

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.data import images as fimg
from fer_core.figures import face as face_figs
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS, FERPLUS_VOTE_COLUMNS
from fer_core.data.dataset import DataError, Dataset, load_dataset
from fer_core.store import Store

SETTINGS = "settings.json"
SAMPLE = {"kind": "sample", "path": "", "ferplus": ""}
#: One colour per FER2013 class, used by every chart so a class keeps its colour across pages.
from fer_core.figures.style import CLASS_COLORS  # noqa: F401  (pages colour classes with it)
OK_RGB, BAD_RGB, NONE_RGB = (40, 40, 40), (200, 30, 30), (120, 120, 120)


# ---- data source ----------------------------------------------------------------------------
def store() -> Store:
    """The artifact store (honours $FER_CACHE_DIR at call time)."""
    return Store()


def saved_source() -> dict:
    """The data source remembered in cache/settings.json (the bundled sample by default)."""
    src = store().read_json(SETTINGS, {}).get("data_source")
    return {**SAMPLE, **src} if isinstance(src, dict) else dict(SAMPLE)


def save_source(src: dict) -> None:
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
    with st.spinner("Loading data (the first load of the full FER2013 takes about 10 s)..."):
        ds, err = load_source(src)
    if err:
        what = f"`{src['path']}`" if src.get("path") else "the data source"
        st.error(f"Could not load {what}: {err}  \nShowing the bundled sample instead.",
                 icon=":material/error:")
        ds, _ = load_source(SAMPLE)
    return ds


def data_source_sidebar() -> None:
    """Sidebar form: bundled sample, or a FER2013 csv / image folder plus optional FER+ votes."""
    src = current_source()
    with st.sidebar.form("data_source_form", border=False):
        st.subheader("Data source")
        kind = st.radio("Data source", ["Bundled sample", "File or folder"], label_visibility="collapsed",
                        index=int(src["kind"] == "path"), key="src_kind",
                        help="The bundled sample: 1,000 images stratified by split and class, with FER+ votes.")
        path = st.text_input("fer2013.csv[.gz] or image folder", value=src["path"], key="src_path",
                             placeholder="/data/fer2013.csv.gz")
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


# ---- derived data (cached per data hash) --------------------------------------------------
@st.cache_data(show_spinner="Computing pixel statistics...", max_entries=4)
def pixel_stats(_ds: Dataset, data_hash: str) -> pd.DataFrame:
    """Per-image brightness/contrast of `_ds` (keyed by its data hash)."""
    return fimg.pixel_stats(_ds.images)


def label_name(i: int, classes=FER2013_EMOTIONS) -> str:
    return classes[i] if i >= 0 else "—"


def describe(ds: Dataset, i: int) -> dict:
    """Metadata of row `i` as a display dict."""
    d = {"index": int(i), "source row": int(ds.row[i]), "split": ds.split[i] or "—",
         "FER2013 label": label_name(int(ds.labels[i]))}
    if ds.paths is not None:
        d["file"] = str(ds.paths[i])
    fp = ds.ferplus
    if fp is not None:
        code = fimg.agreement_codes(ds.labels[i:i + 1], fp.majority[i:i + 1], fp.majority_fer2013[i:i + 1])[0]
        d.update({"FER+ majority": FERPLUS_EMOTIONS[fp.majority[i]] if fp.majority[i] >= 0 else "no majority",
                  "FER+ vs FER2013": fimg.AGREEMENT[code], "not a face (FER+)": "yes" if fp.not_face[i] else "no",
                  "FER+ votes": int(fp.votes[i].sum())})
    return d


# ---- rendering ------------------------------------------------------------------------------
def show_face(image: np.ndarray, *, scale: int = 5, caption: str | None = None) -> None:
    """One face, upscaled with nearest neighbour (float images in [0, 1] are accepted)."""
    img = image if image.dtype == np.uint8 else fimg.to_uint8(image)
    st.image(fimg.upscale(img, scale), caption=caption, width="content")


def show_grid(images: np.ndarray, *, cols: int = 12, scale: int = 2, captions=None, caption_colors=None,
              font_size: int = 11) -> None:
    """A grid of faces sent as one composed image (one request however many faces)."""
    if len(images) == 0:
        st.info("No images match.")
        return
    st.image(fimg.tile(images, cols=cols, scale=scale, captions=captions, caption_colors=caption_colors,
                       font_size=font_size), width="content")


def grid_captions(ds: Dataset, idx: np.ndarray) -> tuple[list[str], list[tuple]]:
    """'#i label' captions; red when FER+ disagrees, grey when FER+ has no majority."""
    caps = [f"{i} {label_name(int(ds.labels[i]))}" for i in idx]
    if ds.ferplus is None:
        return caps, [OK_RGB] * len(idx)
    fp = ds.ferplus
    codes = fimg.agreement_codes(ds.labels[idx], fp.majority[idx], fp.majority_fer2013[idx])
    return caps, [(OK_RGB, BAD_RGB, NONE_RGB)[c] for c in codes]


def votes_chart(ds: Dataset, i: int, *, step: int = 17):
    """Image `i`'s 10 FER+ votes (Vega-Lite: drawn before a new tab has loaded Plotly), the majority
    bar dark and the column of its FER2013 label outlined."""
    from fer_core.constants import FERPLUS_TO_FER2013
    lab = int(ds.labels[i])
    col = int(np.flatnonzero(FERPLUS_TO_FER2013 == lab)[0]) if lab >= 0 else -1
    return face_figs.votes_chart(ds.ferplus.votes[i], FERPLUS_VOTE_COLUMNS, majority=int(ds.ferplus.majority[i]),
                                     label_column=col, step=step)


def image_card(ds: Dataset, i: int) -> None:
    """Large face, its metadata and its FER+ vote bar chart."""
    left, mid, right = st.columns([1.1, 1.3, 2])
    with left:
        show_face(ds.images[i], scale=5)
    with mid:
        meta = describe(ds, i)
        stats = pixel_stats(ds, ds.data_hash).iloc[i]
        meta.update({"brightness (mean)": f"{stats.brightness:.1f}", "contrast (std)": f"{stats.contrast:.1f}"})
        st.dataframe(pd.DataFrame({"value": [str(v) for v in meta.values()]}, index=list(meta)),
                     width="stretch", height=(len(meta) + 1) * 35 + 3)
    with right:
        if ds.ferplus is None:
            st.info("No FER+ votes loaded: add fer2013new.csv in the sidebar.")
        else:
            st.altair_chart(votes_chart(ds, i, step=20), key=f"votes_{i}")


@st.cache_data(show_spinner="Computing pixel histograms...", max_entries=4)
def class_histograms(_ds: Dataset, data_hash: str, bins: int = 32):
    """(7, bins) per-class intensity densities of `_ds`."""
    return fimg.class_histograms(_ds.images, _ds.labels, bins=bins)


@st.cache_data(show_spinner="Computing eigenfaces (about 1 s on the sample, 20 s on the full FER2013; "
                            "cached afterwards)...", max_entries=4)
def eigenfaces(_ds: Dataset, data_hash: str, cache_root: str) -> dict:
    """Eigenfaces artifact of `_ds` (built and stored on first use, see fer_core.pipeline.prepare)."""
    from fer_core.pipeline.prepare import get_eigenfaces
    return get_eigenfaces(_ds, Store(cache_root))


def show_counts(df: pd.DataFrame, **kw) -> None:
    """A table of integer counts with thousands separators."""
    st.dataframe(df, width="stretch", column_config={c: st.column_config.NumberColumn(format="localized")
                                                     for c in df.columns}, **kw)


# ---- models ---------------------------------------------------------------------------------
def shipped_models() -> list[str]:
    """Shipped checkpoint names, default model first."""
    from fer_core.models.checkpoint import shipped_checkpoints
    from fer_core.analysis.predictions import default_model
    names = shipped_checkpoints()
    d = default_model()
    return ([d] if d else []) + [n for n in names if n != d]


def require_models() -> list[str]:
    """shipped_models(); when there is none, say how to train one and stop the page."""
    models = shipped_models()
    if not models:
        st.warning("No trained model is shipped in `fer_core/models/weights/`. Train one with `python -m fer_core.train "
                   "--data fer2013.csv.gz --model compact --out fer_core/models/weights/compact.pt`.")
        st.stop()
    return models


@st.cache_data(show_spinner="Running the model over every image (cached afterwards)...", max_entries=8)
def _predictions(_ds: Dataset, data_hash: str, model: str, cache_root: str) -> dict:
    from fer_core.analysis.predictions import get_predictions
    return get_predictions(_ds, model, store=Store(cache_root))


def predictions(ds: Dataset, model: str) -> dict:
    """Cached probs (N, K) and features (N, D) of a shipped model on `ds`."""
    return _predictions(ds, ds.data_hash, model, str(store().root))


@st.cache_resource(max_entries=8)
def checkpoint_info(model: str) -> dict:
    """A checkpoint's stored fields (history, config, metrics), without the weights."""
    from fer_core.models.checkpoint import load_checkpoint
    from fer_core.models.registry import count_params
    net, info = load_checkpoint(model)
    return {**info, "n_params": count_params(net)}


@st.cache_data(show_spinner="Fitting PCA baselines on the Training split (cached afterwards)...", max_entries=4)
def _baselines(_ds: Dataset, data_hash: str, cache_root: str) -> dict:
    from fer_core.analysis.predictions import get_baseline_predictions
    return get_baseline_predictions(_ds, store=Store(cache_root))


def baselines(ds: Dataset) -> dict:
    return _baselines(ds, ds.data_hash, str(store().root))


def baselines_cached(ds: Dataset) -> bool:
    from fer_core.analysis.predictions import baselines_key
    return store().exists("baselines", baselines_key(ds))


# ---- embeddings -----------------------------------------------------------------------------
def features_cached(ds: Dataset, model: str) -> bool:
    """True when `model`'s features on `ds` are in the artifact store."""
    from fer_core.analysis.predictions import predictions_key
    return store().exists("predictions", predictions_key(ds, model))


def projection_cached(ds: Dataset, model: str, config) -> bool:
    from fer_core.analysis.embed import projection_key, projection_stage
    return store().exists(projection_stage(config), projection_key(ds, config, model))


@st.cache_data(show_spinner="Loading the map...", max_entries=16)
def _projection(_ds: Dataset, data_hash: str, model: str, config: dict, cache_root: str) -> np.ndarray:
    from fer_core.config import ProjectionConfig
    from fer_core.analysis.embed import get_projection
    return get_projection(_ds, ProjectionConfig.from_dict(config), model=model, store=Store(cache_root))["coords"]


def projection(ds: Dataset, model: str, config) -> np.ndarray:
    """(N, dims) map coordinates of `model`'s features (computed and stored on first use)."""
    return _projection(ds, ds.data_hash, model, config.to_dict(), str(store().root))


@st.cache_data(show_spinner="Nearest neighbours and silhouettes in feature space (cached afterwards)...",
               max_entries=8)
def _feature_stats(_ds: Dataset, data_hash: str, model: str, cache_root: str) -> dict:
    from fer_core.analysis.embed import get_feature_stats
    return get_feature_stats(_ds, model, store=Store(cache_root))


def feature_stats(ds: Dataset, model: str) -> dict:
    """Neighbour graph and per-class silhouettes of `model`'s features (fer_core.analysis.embed)."""
    return _feature_stats(ds, ds.data_hash, model, str(store().root))


def feature_stats_cached(ds: Dataset, model: str) -> bool:
    from fer_core.analysis.embed import stats_key
    return store().exists("embedding_stats", stats_key(ds, model))


@st.cache_data(show_spinner=False, max_entries=8)
def _drawn_sample(_ds: Dataset, data_hash: str, max_points: int) -> np.ndarray | None:
    from fer_core.analysis import embed
    rows = embed.display_sample(_ds.labels, max_points)
    return None if len(rows) == len(_ds) else rows


def drawn_sample(ds: Dataset) -> np.ndarray | None:
    """The rows the map draws when it cannot draw them all (a seeded class-stratified sample of
    fer_core.analysis.embed.MAX_DRAWN_POINTS), or None when every point is drawn."""
    from fer_core.analysis import embed
    return _drawn_sample(ds, ds.data_hash, embed.MAX_DRAWN_POINTS)


@st.cache_resource(show_spinner=False, max_entries=6)
def _embedding_figure(_ds: Dataset, data_hash: str, model: str, config: dict, color_by: str, max_points: int,
                      cache_root: str):
    from fer_core.analysis import embed
    from fer_core.figures import embeddings as figures
    coords = projection(_ds, model, embed.ProjectionConfig.from_dict(config))
    pred = _predictions(_ds, data_hash, model, cache_root)
    colors = embed.point_colors(_ds, color_by, probs=pred["probs"], classes=pred["classes"])
    sample = _drawn_sample(_ds, data_hash, max_points)
    hover = embed.hover_texts(_ds, pred["probs"], pred["classes"], rows=sample)
    return figures.embedding_figure(coords, np.arange(len(_ds)), colors, hover=hover, sample=sample)


def embedding_figure(ds: Dataset, model: str, config, color_by: str):
    """The map's scatter (built once per data, model, map and colouring; shared, do not mutate).
    Over fer_core.analysis.embed.MAX_DRAWN_POINTS points it draws :func:`drawn_sample` over a density
    image of all points."""
    from fer_core.analysis import embed
    return _embedding_figure(ds, ds.data_hash, model, config.to_dict(), color_by, embed.MAX_DRAWN_POINTS,
                             str(store().root))


def embedding_selection(ds: Dataset, model: str, config, selection) -> np.ndarray:
    """Dataset rows of a selection on :func:`embedding_figure`: clicks through the points'
    customdata; a box or lasso on a sampled 2-D map against every point's coordinates, so it
    selects the rows that were not drawn too (fer_core.analysis.embed.selection_rows)."""
    from fer_core.analysis import embed
    coords = None
    if config.dims == 2 and drawn_sample(ds) is not None and embed.selection_kind(selection) == "region":
        coords = projection(ds, model, config)
    return embed.selection_rows(selection, coords)


# ---- saliency and Try a face -----------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def load_model(model: str):
    """A shipped model, loaded once per process (read-only: attribution leaves its weights alone)."""
    from fer_core.models.checkpoint import load_checkpoint
    return load_checkpoint(model)[0]


@st.cache_data(show_spinner=False, max_entries=512)
def attribution(model: str, images: np.ndarray, method: str, target: int | None = None) -> np.ndarray:
    """(N, 48, 48) importance maps of a shipped model (fer_core.analysis.attribute.attribute), cached."""
    from fer_core.analysis.attribute import attribute
    return attribute(load_model(model), images, method=method, target=target)


@st.cache_data(show_spinner="Averaging maps over the correctly classified test images (cached afterwards)...",
               max_entries=16)
def _class_maps(_ds: Dataset, data_hash: str, model: str, method: str, cache_root: str) -> dict:
    from fer_core.analysis.attribute import get_class_maps
    from fer_core.config import AttributionConfig
    return get_class_maps(_ds, AttributionConfig(model=model, method=method), store=Store(cache_root))


def class_maps(ds: Dataset, model: str, method: str) -> dict:
    """Per-class average maps of `model` with `method` (artifact 'class_maps')."""
    return _class_maps(ds, ds.data_hash, model, method, str(store().root))


def sanity_result(ds: Dataset, model: str, *, compute: bool = False, progress=None) -> dict | None:
    """The cached sanity check of `model` on `ds` (None when not built and `compute` is False)."""
    from fer_core.analysis.attribute import get_sanity, sanity_key
    from fer_core.config import SanityConfig
    cfg = SanityConfig(model=model)
    if not compute:
        return store().load("sanity", sanity_key(ds, cfg))
    return get_sanity(ds, cfg, store=store(), progress=progress)


@st.cache_data(show_spinner="Finding faces...", max_entries=16)
def analyze_upload(data: bytes, model: str, detect: bool = True) -> tuple:
    """Decode an uploaded photo and classify its faces: (Photo, faces, None) or (None, [], message).
    Never raises for a bad file (fer_core.analysis.faces.ImageError becomes the message)."""
    from fer_core.analysis.faces import ImageError, analyze_photo, load_photo
    try:
        photo = load_photo(data)
    except ImageError as e:
        return None, [], str(e)
    return photo, analyze_photo(photo.rgb, load_model(model), detect=detect), None


@st.cache_data(show_spinner=False, max_entries=2)
def demo_photo_bytes() -> bytes:
    """A PNG of three faces of the bundled sample pasted on a 640x480 canvas (fer_core.analysis.faces.demo_photo)."""
    import io

    from PIL import Image

    from fer_core.analysis.faces import demo_photo
    ds, _ = load_source(SAMPLE)
    rgb, _, _ = demo_photo(ds.images, ds.labels, n=3, seed=0)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def run_with_progress(text: str, fn, **kw):
    """`fn(**kw, progress=callback)` under an st.progress bar that is removed when done."""
    slot = st.empty()
    bar = slot.progress(0.0, text=text)
    try:
        return fn(progress=lambda f, t: bar.progress(min(max(float(f), 0.0), 1.0), text=t), **kw)
    finally:
        slot.empty()


# ---- label errors (fer_core.analysis.label_errors, fer_core.data.flags) -------------------------------------
def label_errors_cached(ds: Dataset, model: str) -> bool:
    from fer_core.analysis.label_errors import LabelErrorConfig, label_errors_key
    return store().exists("label_errors", label_errors_key(ds, LabelErrorConfig(model=model)))


@st.cache_data(show_spinner=False, max_entries=4)
def _label_errors(_ds: Dataset, data_hash: str, model: str, cache_root: str) -> dict:
    from fer_core.analysis.label_errors import LabelErrorConfig, get_label_errors
    return get_label_errors(_ds, LabelErrorConfig(model=model), store=Store(cache_root))


def label_errors(ds: Dataset, model: str, progress=None) -> dict:
    """Cached rankings of `model` on `ds` (computed first, reporting to `progress`, when missing;
    the progress bar cannot live inside st.cache_data)."""
    if progress is not None and not label_errors_cached(ds, model):
        from fer_core.analysis.label_errors import LabelErrorConfig, get_label_errors
        get_label_errors(ds, LabelErrorConfig(model=model), store=store(), progress=progress)
    return _label_errors(ds, ds.data_hash, model, str(store().root))


def flag_store():
    """The persistent flag database (cache/flags.sqlite)."""
    from fer_core.data.flags import FlagStore
    return FlagStore()


def pick_gallery(images: np.ndarray, idx: np.ndarray, captions: list[str], *, key: str, cols: int = 6,
                 scale: int = 2, selected: int | None = None) -> None:
    """Thumbnails of `images[idx]` in a grid, each with a button that sets st.session_state[key]
    to its index (the clicked face is then shown large by the page). The selected one is marked."""
    def pick(i):
        st.session_state[key] = int(i)
    for start in range(0, len(idx), cols):
        for col, i, cap in zip(st.columns(cols), idx[start:start + cols], captions[start:start + cols]):
            with col:
                st.image(fimg.upscale(images[i], scale), caption=cap, width="content")
                st.button(f"#{i}", key=f"{key}_btn_{i}", on_click=pick, args=(i,), width="stretch",
                          type="primary" if selected == int(i) else "secondary")


def flags_panel(ds: Dataset, flags, latest: pd.DataFrame, counts: dict) -> None:
    """Every current decision on `ds` (`latest` = flags.latest(), `counts` = flags.counts(), as
    the page read them) as a table, CSV export and import, and the full history."""
    from fer_core.data.flags import FlagError
    st.caption(" · ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in counts.items()))
    if len(latest):
        pos = {int(r): i for i, r in enumerate(ds.row)}
        shown = latest.assign(
            original_label=[label_name(int(ds.labels[pos[r]])) if r in pos else "?" for r in latest["row"]],
            corrected_label=["" if pd.isna(v) else FER2013_EMOTIONS[int(v)] for v in latest["label"]],
            time=pd.to_datetime(latest["time"]).dt.strftime("%Y-%m-%d %H:%M UTC"))
        st.dataframe(shown[["row", "original_label", "decision", "corrected_label", "note", "time"]],
                     hide_index=True, width="stretch")
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


@st.cache_data(show_spinner="Finding duplicate images...", max_entries=4)
def _duplicate_groups(_ds: Dataset, data_hash: str, near: bool, cache_root: str) -> np.ndarray:
    from fer_core.analysis import duplicates as dup
    return dup.duplicate_groups(_ds, kind="near" if near else "exact", store=Store(cache_root))


def duplicates_panel(ds: Dataset) -> None:
    """Exact or near-duplicate groups: train/test leakage per split, the groups (conflicting labels
    first) and the faces of a chosen group."""
    from fer_core.analysis import duplicates as dup
    near = st.radio("Duplicates", ["pixel-identical", "near-identical (re-encoded, shifted, re-lit copies)"],
                    horizontal=True, key="dup_kind").startswith("near")
    groups = _duplicate_groups(ds, ds.data_hash, near, str(store().root))
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
                                   labels=lambda t: t["labels"].map(lambda r: ", ".join(label_name(int(x)) for x in r)),
                                   splits=lambda t: t["splits"].map(", ".join)).drop(columns=["indices"])
    ev = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                      key="dup_table", height=280)
    st.caption(f"{len(table):,} groups{' (first 500 shown)' if len(table) > 500 else ''}; select one to see its faces.")
    picked = ev.selection.rows if ev is not None else []
    if picked:
        members = np.asarray(table.iloc[picked[0]]["indices"])
        show_grid(ds.images[members], cols=min(len(members), 8), scale=3,
                  captions=[f"#{i} {label_name(int(ds.labels[i]))} {ds.split[i][:5]}" for i in members])
