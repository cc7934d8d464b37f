"""Folder layouts of the common facial-expression data sets, and how their labels map to ours.

A layout is one :class:`Layout` in :data:`LAYOUTS`: its name, a test that recognises it
(``matches(root)``) and its reader (``read(root) -> Listing``: the image files, their emotion
and split). :func:`read_layout` tries them in registration order; the last, ``emotion_folders``,
takes any folder. Decoding the images and cropping their faces is the image-folder reader's job
(:func:`fer_core.data.dataset.read_image_folder`).

Emotions are given in the FER+ index space (:data:`~fer_core.constants.FERPLUS_EMOTIONS`: FER2013's
seven classes plus contempt); ``-1`` is an image without a label.

===================  ===========================================================================
layout               what it reads
===================  ===========================================================================
``rafdb``            RAF-DB basic: ``[EmoLabel/]list_patition_label.txt`` (``train_00001.jpg 5``,
                     1-7 = surprise, fear, disgust, happiness, sadness, anger, neutral) and the
                     images in ``Image/aligned/`` (``train_00001_aligned.jpg``) or ``Image/original/``
``affectnet``        AffectNet: ``<set>/images/<n>.jpg`` with ``<set>/annotations/<n>_exp.npy``
                     (0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt;
                     8-10, none / uncertain / not a face, are kept unlabelled)
``emotion_folders``  ``[<split>/]<emotion>/*.jpg`` with FER2013, CK+ and common names (:data:`SYNONYMS`),
                     or AffectNet ids ``0``..``7`` as folder names; images outside emotion folders
                     are unlabelled; a folder beside emotion folders that is no emotion is an error
===================  ===========================================================================
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.constants import FERPLUS_EMOTIONS, FOLDER_SPLITS
from fer_core.data.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
#: Files besides images that a layout reads labels from (they enter the folder's content hash).
LABEL_EXTENSIONS = (".txt", ".npy")

_FP = {name: i for i, name in enumerate(FERPLUS_EMOTIONS)}
#: Emotion folder names (lower case) -> FER+ index: FER2013's names, CK+'s, FER+'s, and common variants.
SYNONYMS: dict[str, int] = {
    **{n: _FP["anger"] for n in ("angry", "anger")},
    **{n: _FP["disgust"] for n in ("disgust", "disgusted")},
    **{n: _FP["fear"] for n in ("fear", "fearful", "afraid", "scared")},
    **{n: _FP["happiness"] for n in ("happy", "happiness", "joy")},
    **{n: _FP["sadness"] for n in ("sad", "sadness")},
    **{n: _FP["surprise"] for n in ("surprise", "surprised")},
    **{n: _FP["neutral"] for n in ("neutral", "neutrality")},
    **{n: _FP["contempt"] for n in ("contempt", "contemptuous")},
}
#: AffectNet expression id -> FER+ index (ids 8, 9, 10 = none, uncertain, not a face: unlabelled).
AFFECTNET_IDS = np.array([_FP[n] for n in ("neutral", "happiness", "sadness", "surprise", "fear", "disgust",
                                           "anger", "contempt")], np.int64)
AFFECTNET_UNLABELED = (8, 9, 10)
#: RAF-DB basic label 1..7 -> FER+ index (index 0 unused).
RAFDB_LABELS = np.array([-1] + [_FP[n] for n in ("surprise", "fear", "disgust", "happiness", "sadness", "anger",
                                                 "neutral")], np.int64)
RAFDB_LIST = "list_patition_label.txt"  # sic: RAF-DB's own spelling
#: Split folder names: FER2013 image-folder copies' (constants.FOLDER_SPLITS) and AffectNet's
#: (its validation set is the set papers report on, so it is the test split here).
SPLIT_NAMES = {**FOLDER_SPLITS, "train_set": "Training", "val_set": "PrivateTest"}
RAFDB_SPLITS = {"train": "Training", "test": "PrivateTest"}


@dataclass(frozen=True)
class Listing:
    """The images of a folder and their labels, before any image is read.

    Attributes:
        files: N image files, sorted as the layout lists them.
        labels: (N,) int64 FER+ emotion index 0..7 (:data:`~fer_core.constants.FERPLUS_EMOTIONS`), -1 unlabelled.
        split: (N,) str, one of SPLITS or ''.
        layout: the :data:`LAYOUTS` name that read it.
    """

    files: list[Path]
    labels: np.ndarray
    split: np.ndarray
    layout: str


@dataclass(frozen=True)
class Layout:
    """A folder layout: `matches(root)` says whether `root` looks like it, `read(root)` lists it;
    `title` is its name for people ("RAF-DB basic")."""

    name: str
    title: str
    description: str
    matches: Callable[[Path], bool]
    read: Callable[[Path], Listing]


LAYOUTS: dict[str, Layout] = {}


def register(layout: Layout) -> Layout:
    """Add `layout` to :data:`LAYOUTS` (tried in registration order)."""
    if layout.name in LAYOUTS:
        raise ValueError(f"layout {layout.name!r} is registered twice")
    LAYOUTS[layout.name] = layout
    return layout


def detect_layout(root: str | Path) -> Layout:
    """The first registered layout that `root` matches (``emotion_folders`` matches any folder)."""
    root = Path(root)
    return next(lay for lay in LAYOUTS.values() if lay.matches(root))


def read_layout(root: str | Path) -> Listing:
    """List the images of folder `root` with their labels and splits (its layout detected).

    Raises:
        DataError: naming the folder, file, row or field that cannot be read (see each layout).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("folder not found", file=root)
    return detect_layout(root).read(root)


def list_images(folder: Path) -> list[Path]:
    """Every image file under `folder` (any depth), sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _listing(files, labels, split, layout: str, root: Path) -> Listing:
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder", file=root)
    return Listing(list(files), np.asarray(labels, np.int64), np.asarray(split, dtype=str), layout)


def accepted_names() -> str:
    """The emotion folder names accepted, for error messages."""
    return ", ".join(SYNONYMS) + "; or AffectNet ids 0-7"


# ---- RAF-DB basic ---------------------------------------------------------------------------
def _rafdb_list(root: Path) -> Path | None:
    for base in (root, root / "basic"):
        for p in (base / RAFDB_LIST, base / "EmoLabel" / RAFDB_LIST):
            if p.is_file():
                return p
    return None


def _read_rafdb(root: Path) -> Listing:
    lst = _rafdb_list(root)
    base = lst.parent.parent if lst.parent.name == "EmoLabel" else lst.parent
    aligned, original = base / "Image" / "aligned", base / "Image" / "original"
    if not aligned.is_dir() and not original.is_dir():
        raise DataError(f"RAF-DB list found but no image folder: expected {aligned.relative_to(root)} or "
                        f"{original.relative_to(root)}", file=root)
    files, labels, split = [], [], []
    rows = [line.split() for line in lst.read_text(encoding="utf-8", errors="replace").splitlines()]
    for i, parts in enumerate(rows):
        if not parts:
            continue
        where = {"file": lst, "row": i, "line": i + 1}
        if len(parts) != 2:
            raise DataError(f"expected '<image name> <label 1-7>', got {' '.join(parts)[:80]!r}", **where)
        name, label = parts
        if not label.isdigit() or not 1 <= int(label) <= 7:
            raise DataError(f"label {label!r} is not 1..7 (surprise, fear, disgust, happiness, sadness, anger, "
                            "neutral)", field="label", **where)
        stem = Path(name).stem
        cands = ([aligned / f"{stem}_aligned{Path(name).suffix}"] if aligned.is_dir() else []) + \
                ([original / name] if original.is_dir() else [])
        f = next((c for c in cands if c.is_file()), None)
        if f is None:
            raise DataError(f"image {name!r} is missing: looked for "
                            f"{' and '.join(str(c.relative_to(root)) for c in cands)}", field="image", **where)
        files.append(f)
        labels.append(RAFDB_LABELS[int(label)])
        split.append(RAFDB_SPLITS.get(stem.split("_")[0].lower(), ""))
    return _listing(files, labels, split, "rafdb", root)


register(Layout("rafdb", "RAF-DB basic", "RAF-DB basic: list_patition_label.txt and Image/aligned or Image/original",
                lambda root: _rafdb_list(root) is not None, _read_rafdb))


# ---- AffectNet (images + annotations/<n>_exp.npy) -------------------------------------------
def _affectnet_sets(root: Path) -> list[Path]:
    cands = [root, *sorted(d for d in root.iterdir() if d.is_dir())]
    return [d for d in cands if (d / "annotations").is_dir() and (d / "images").is_dir()]


def _affectnet_expression(npy: Path) -> int:
    try:
        v = np.load(npy, allow_pickle=False)
        e = int(str(np.asarray(v).reshape(-1)[0]).strip())
    except Exception as err:  # noqa: BLE001 - any unreadable annotation is a bad file
        raise DataError(f"cannot read the expression id ({type(err).__name__}: {err})"[:200], file=npy,
                        field="expression") from None
    if not 0 <= e <= 10:
        raise DataError(f"expression id {e} is not 0..10 (0-7 emotions, 8-10 none / uncertain / not a face)",
                        file=npy, field="expression")
    return int(AFFECTNET_IDS[e]) if e < 8 else -1


def _read_affectnet(root: Path) -> Listing:
    files, labels, split = [], [], []
    for s in _affectnet_sets(root):
        sp = SPLIT_NAMES.get(s.name.lower(), "") if s != root else ""
        for f in list_images(s / "images"):
            npy = s / "annotations" / f"{f.stem}_exp.npy"
            if not npy.is_file():
                raise DataError(f"no expression annotation: expected {npy.relative_to(root)}", file=f)
            files.append(f)
            labels.append(_affectnet_expression(npy))
            split.append(sp)
    return _listing(files, labels, split, "affectnet", root)


register(Layout("affectnet", "AffectNet", "AffectNet: <set>/images/<n>.jpg and <set>/annotations/<n>_exp.npy",
                lambda root: bool(_affectnet_sets(root)), _read_affectnet))


# ---- emotion folders (FER2013 copies, CK+, synonyms, AffectNet ids) --------------------------
def _emotion_of(name: str) -> int | None:
    """FER+ index of a folder name, None when it names no emotion."""
    n = name.strip().lower()
    if n in SYNONYMS:
        return SYNONYMS[n]
    if n.isdigit() and len(n) == 1 and int(n) < 8:
        return int(AFFECTNET_IDS[int(n)])
    return None


def _innermost(dirs: tuple[str, ...], named: bool) -> int | None:
    """Index of the innermost folder in `dirs` that is no split name (and, with `named`, is an emotion)."""
    return next((k for k in range(len(dirs) - 1, -1, -1) if dirs[k].lower() not in SPLIT_NAMES
                 and (not named or _emotion_of(dirs[k]) is not None)), None)


def _read_emotion_folders(root: Path) -> Listing:
    """Images in emotion folders get that emotion (the innermost emotion folder of their path);
    images outside any emotion folder are unlabelled, unless their folder sits beside emotion
    folders (``train/sadd`` next to ``train/happy``): that is a misspelt emotion, an error."""
    files = list_images(root)
    dirs = [f.relative_to(root).parts[:-1] for f in files]
    at = [_innermost(d, True) for d in dirs]
    named = [d[k] if k is not None else None for d, k in zip(dirs, at)]
    present = {p for p in named if p is not None}
    if any(p.isdigit() for p in present) and any(not p.isdigit() for p in present):
        raise DataError(f"mixes emotion names ({', '.join(sorted(p for p in present if not p.isdigit()))}) with "
                        f"AffectNet ids ({', '.join(sorted(p for p in present if p.isdigit()))}) as folder names: "
                        "use one or the other", file=root)
    beside = {d[:k] for d, k in zip(dirs, at) if k is not None}  # folders that hold emotion folders
    for d, p in zip(dirs, named):
        k = _innermost(d, False) if p is None else None
        if k is not None and d[:k] in beside:
            raise DataError(f"folder {'/'.join(d[:k + 1])!r} is not an emotion; accepted folder names: "
                            f"{accepted_names()}", file=root)
    labels = [_emotion_of(p) if p is not None else -1 for p in named]
    split = [next((SPLIT_NAMES[p.lower()] for p in d if p.lower() in SPLIT_NAMES), "") for d in dirs]
    return _listing(files, labels, split, "emotion_folders", root)


register(Layout("emotion_folders", "emotion folders", "[<split>/]<emotion>/ folders (FER2013, CK+, synonyms, AffectNet ids), "
                "or unlabelled images", lambda root: True, _read_emotion_folders))
