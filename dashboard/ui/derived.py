"""Small results computed for a page (``st.cache_data``, Dataset arguments hashed by content), and
the stores a page writes to (flags, the saliency sanity check).

Large read-only artifacts are not here: they go through :func:`dashboard.ui.loaders.artifact`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.ui.loaders import cache_data, load_model
from dashboard.ui.source import store
from fer_core.data import images as fimg
from fer_core.data.dataset import Dataset


@cache_data(show_spinner="Computing pixel statistics...", max_entries=4)
def pixel_stats(ds: Dataset) -> pd.DataFrame:
    """Per-image brightness and contrast of `ds` (one row per image)."""
    return fimg.pixel_stats(ds.images)


@cache_data(show_spinner="Computing pixel histograms...", max_entries=4)
def class_histograms(ds: Dataset, bins: int = 32):
    """(7, bins) per-class intensity densities of `ds`."""
    return fimg.class_histograms(ds.images, ds.labels, bins=bins)


@st.cache_data(show_spinner=False, max_entries=512)
def attribution(model: str, images: np.ndarray, method: str, target: int | None = None) -> np.ndarray:
    """(N, 48, 48) importance maps of a shipped model (fer_core.analysis.attribute.attribute), cached."""
    from fer_core.analysis.attribute import attribute
    return attribute(load_model(model), images, method=method, target=target)


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

    from dashboard.ui.source import SAMPLE, load_source
    from fer_core.analysis.faces import demo_photo
    ds, _ = load_source(SAMPLE)
    rgb, _, _ = demo_photo(ds.images, ds.labels, n=3, seed=0)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def sanity_result(ds: Dataset, model: str, *, compute: bool = False, progress=None) -> dict | None:
    """The cached sanity check of `model` on `ds` (None when not built and `compute` is False)."""
    from fer_core.analysis.attribute import get_sanity, sanity_key
    from fer_core.config import SanityConfig
    cfg = SanityConfig(model=model)
    if not compute:
        return store().load("sanity", sanity_key(ds, cfg))
    return get_sanity(ds, cfg, store=store(), progress=progress)


def flag_store():
    """The persistent flag database (cache/flags.sqlite)."""
    from fer_core.data.flags import FlagStore
    return FlagStore()


#: Datasets up to this size get their predictions computed for a table without asking (seconds).
AUTO_PREDICT = 2000


@cache_data(show_spinner="Building the table of every image...", max_entries=4)
def _image_table(ds: Dataset, model: str | None, built: tuple[bool, ...], others: tuple[str, ...] = ()
                 ) -> pd.DataFrame:
    from dashboard.ui.loaders import artifact
    from fer_core.analysis.duplicates import duplicate_groups
    from fer_core.analysis.image_table import image_table
    has_pred, has_le, has_near, has_att = built
    pred = artifact("predictions", ds, model=model, spinner=False) if has_pred else None
    res = artifact("label_errors", ds, model=model, spinner=False) if has_le else None
    groups = duplicate_groups(ds, kind="near" if has_near else "exact", store=store())
    models = {m: artifact("predictions", ds, model=m, spinner=False)["probs"] for m in (model, *others)} \
        if has_pred and others else None
    att = artifact("attention", ds, model=model, spinner=False)["summary"] if has_att else None
    return image_table(ds, probs=None if pred is None else pred["probs"], classes=None if pred is None else
                       pred["classes"], label_errors=res, groups=groups, models=models, attention=att)


def comparable_models(ds: Dataset, model: str) -> tuple[list[str], list[str]]:
    """The other available models whose predictions on `ds` can be set beside `model`'s: built
    (or computed here for datasets up to :data:`AUTO_PREDICT` images) and of the same classes.
    Returns (their names, a note per model left out saying why)."""
    from dashboard.ui.loaders import (
        artifact,
        artifact_cached,
        compute_artifact,
        shipped_models,
    )
    from dashboard.ui.source import source_files
    from fer_core.pipeline.prepare import prepare_command
    classes = list(artifact("predictions", ds, model=model, spinner=False)["classes"])
    names, notes = [], []
    for m in shipped_models():
        if m == model:
            continue
        if not artifact_cached("predictions", ds, model=m):
            if len(ds) > AUTO_PREDICT:
                notes.append(f"models disagree: `{m}` has no predictions yet "
                             f"(`{prepare_command(*source_files(ds), model=m)} --only predictions`)")
                continue
            compute_artifact("predictions", ds, model=m)
        if list(artifact("predictions", ds, model=m, spinner=False)["classes"]) != classes:
            notes.append(f"models disagree: `{m}` predicts other classes than `{model}`")
            continue
        names.append(m)
    return names, notes


def image_table(ds: Dataset, model: str | None) -> tuple[pd.DataFrame, list[str]]:
    """Every image of `ds` as one table (:func:`fer_core.analysis.image_table.image_table`) from
    the artifacts that are built, and a note per missing one naming the command that builds it.
    Predictions of datasets up to :data:`AUTO_PREDICT` images are computed here. With more than
    one model available, the "models disagree" columns compare `model` with the others
    (:func:`comparable_models`); with one, there are none."""
    from dashboard.ui.loaders import artifact_cached, compute_artifact
    from dashboard.ui.source import source_files
    from fer_core.analysis.duplicates import near_duplicates_key
    from fer_core.pipeline.prepare import prepare_command
    notes, cmd = [], prepare_command(*source_files(ds), model=model)
    has_pred = model is not None and artifact_cached("predictions", ds, model=model)
    if model is not None and not has_pred and len(ds) <= AUTO_PREDICT:
        compute_artifact("predictions", ds, model=model)
        has_pred = True
    has_le = model is not None and (ds.labels >= 0).any() and artifact_cached("label_errors", ds, model=model)
    has_near = store().exists("duplicates", near_duplicates_key(ds))
    if model is None:
        notes.append("prediction, confidence, loss, label-error and outlier scores: no trained model is shipped "
                     "(`python -m fer_core.train ...`)")
    elif not has_pred:
        notes.append(f"prediction, confidence and loss: `{cmd} --only predictions`")
    if model is not None and not has_le:
        notes.append(f"label-error and outlier scores: `{cmd} --only label_errors` (or open the Label errors page)")
    if not has_near:
        notes.append(f"duplicate group shows pixel-identical copies only; near-duplicates: `{cmd} --only duplicates`")
    has_att = model is not None and artifact_cached("attention", ds, model=model)
    if model is not None and not has_att:
        notes.append(f"border attention: `{cmd} --only attention` (or the Saliency page)")
    others, why = comparable_models(ds, model) if has_pred else ([], [])
    return (_image_table(ds, model, (bool(has_pred), bool(has_le), bool(has_near), bool(has_att)), tuple(others)),
            notes + why)
