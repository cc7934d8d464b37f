"""Folders of photos load like FER2013: faces detected and cropped once (cached), labels of the
common layouts (RAF-DB, AffectNet, CK+, emotion-name synonyms) mapped, bad input named.

The photos are planted: bundled sample faces pasted on larger backgrounds
(:func:`fer_core.analysis.faces.synthetic_photo`), each one checked to be found by the Haar
detector in the fixture, so a test fails only when the loader mishandles them.
"""
import json
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fer_core.analysis.faces import synthetic_photo
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS
from fer_core.data import faces as face_detection
from fer_core.data.dataset import SAMPLE_CSV, DataError, load_dataset, read_fer2013_csv
from fer_core.data.dataset import main as data_main
from fer_core.data.layouts import LAYOUTS, detect_layout

ROOT = Path(__file__).resolve().parent.parent
PHOTO = (160, 128)  # width, height of a one-face photo
FACE_PX = 96


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def _coarse_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two faces at 12x12 (a box a few pixels off the pasted square still matches)."""
    small = [cv2.resize(x, (12, 12), interpolation=cv2.INTER_AREA).astype(float).ravel() for x in (a, b)]
    return float(np.corrcoef(*small)[0, 1])


@pytest.fixture(scope="module")
def planted():
    """Sample faces the detector finds squarely when pasted alone on a photo (its crop matches the
    face, the whole photo shrunk does not), a photo with two faces of different sizes (both
    found) and a photo with no face."""
    images = read_fer2013_csv(SAMPLE_CSV)["images"]
    good = []
    for i in range(len(images)):
        rgb, box = synthetic_photo(images[i:i + 1], size=PHOTO, face_px=FACE_PX)
        found = face_detection.detect_faces(rgb)
        if len(found) == 1 and _iou(found[0], box[0]) > 0.7 and \
                _coarse_corr(face_detection.crop_face(rgb, found[0]), images[i]) > 0.9 and \
                _coarse_corr(face_detection.whole_image_crop(rgb), images[i]) < 0.4:
            good.append(i)
        if len(good) == 10:
            break
    faces = images[good]
    two = None
    for a, b in pairwise(good):  # two faces: a large one and a small one
        rgb, boxes = synthetic_photo(images[[a, b]], size=(260, 140), face_px=110)
        x, y, _, _ = boxes[1]
        rgb[y:y + 110, x:x + 110] = rgb[0, 0]
        small = cv2.resize(images[b], (70, 70), interpolation=cv2.INTER_CUBIC)
        rgb[y + 20:y + 90, x + 20:x + 90] = small[..., None]
        found = face_detection.detect_faces(rgb)
        big = found[np.argmax(found[:, 2])] if len(found) else None
        if len(found) == 2 and _iou(big, boxes[0]) > 0.7 and _coarse_corr(face_detection.crop_face(rgb, big),
                                                                          images[a]) > 0.9:
            two = (rgb, images[a])
            break
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:PHOTO[1], 0:PHOTO[0]]
    blank = np.clip(np.stack([120 + 0.5 * xx, 140 + 0.3 * yy, 160 - 0.2 * xx], -1) + rng.normal(0, 5, (*PHOTO[::-1], 3)),
                    0, 255).astype(np.uint8)
    assert len(good) == 10 and two is not None and not len(face_detection.detect_faces(blank))
    return {"faces": faces, "two": two, "blank": blank}


def _photo(face: np.ndarray) -> np.ndarray:
    return synthetic_photo(face[None], size=PHOTO, face_px=FACE_PX)[0]


def _save(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def _by_path(ds) -> dict:
    return {p: i for i, p in enumerate(ds.paths.tolist())}


# ---- emotion folders: synonyms, CK+ names, contempt, counts ----------------------------------
def test_photo_folder_with_synonyms_crops_faces_and_counts_none_and_several(tmp_path, planted, capsys):
    f = planted["faces"]
    root = tmp_path / "photos"
    plan = {"train/Anger/a.png": f[0], "train/happiness/b.png": f[1], "train/sadness/c.jpg": f[2],
            "test/surprised/d.png": f[3], "test/fearful/e.png": f[4], "test/disgusted/f.png": f[5],
            "test/neutrality/g.png": f[6], "train/contempt/h.png": f[7]}
    for rel, face in plan.items():
        _save(root / rel, _photo(face))
    _save(root / "train/happy/nobody.png", planted["blank"])
    _save(root / "train/happy/two.png", planted["two"][0])
    ds = load_dataset(root)
    at = _by_path(ds)
    expect = {"a": "angry", "b": "happy", "c": "sad", "d": "surprise", "e": "fear", "f": "disgust", "g": "neutral"}
    for rel in plan:
        name = Path(rel).stem
        got = ds.labels[at[rel]]
        assert (FER2013_EMOTIONS[got] if got >= 0 else "contempt") == expect.get(name, "contempt"), rel
    assert ds.split[at["train/Anger/a.png"]] == "Training" and ds.split[at["test/fearful/e.png"]] == "PrivateTest"
    # contempt: no FER2013 class (-1), its own class in the FER+ label set; the others agree
    assert ds.labels[at["train/contempt/h.png"]] == -1
    fp = ds.labels_in("ferplus")
    assert FERPLUS_EMOTIONS[fp[at["train/contempt/h.png"]]] == "contempt"
    assert FERPLUS_EMOTIONS[fp[at["train/Anger/a.png"]]] == "anger"
    assert ds.layout == "emotion_folders"
    # each face is cropped: it matches the pasted face, the whole photo shrunk does not
    for rel, face in plan.items():
        crop = ds.images[at[rel]]
        whole = face_detection.whole_image_crop(np.asarray(Image.open(root / rel).convert("RGB")))
        assert _coarse_corr(crop, face) > 0.9 and _coarse_corr(whole, face) < 0.4, rel
        assert ds.faces[at[rel]] == 1
    # no face: kept whole and counted; two faces: the larger one, counted
    nobody, two = at["train/happy/nobody.png"], at["train/happy/two.png"]
    assert ds.faces[nobody] == 0 and ds.faces[two] == 2
    np.testing.assert_array_equal(ds.images[nobody], face_detection.whole_image_crop(planted["blank"]))
    assert _coarse_corr(ds.images[two], planted["two"][1]) > 0.9
    assert ds.labels[nobody] == ds.labels[two] == FER2013_EMOTIONS.index("happy")
    s = ds.summary()
    assert s["photos"] == {"searched": 10, "no_face": 1, "several_faces": 1}
    assert s["layout"] == "emotion_folders"
    assert json.loads(json.dumps(s)) == s
    groups = ds.photo_faces()
    assert groups["no face"].tolist() == [nobody] and groups["several faces"].tolist() == [two]
    sub = ds.subset(groups["several faces"])
    assert sub.faces.tolist() == [2]
    assert data_main([str(root)]) == 0  # the command says it too (from the cache)
    assert "emotion_folders layout: 10 photos searched for a face, 1 with no face (kept whole), 1 with several " \
           "(the largest kept)" in capsys.readouterr().out


def test_second_load_is_served_from_the_cache_without_detecting(tmp_path, planted, monkeypatch):
    root = tmp_path / "photos"
    _save(root / "happy/a.png", _photo(planted["faces"][0]))
    _save(root / "sad/b.png", planted["blank"])
    calls = []
    real = face_detection.detect_faces
    monkeypatch.setattr(face_detection, "detect_faces", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = load_dataset(root)
    assert len(calls) == 2
    second = load_dataset(root)
    assert len(calls) == 2, "the second load searched the photos again"
    np.testing.assert_array_equal(first.images, second.images)
    assert second.faces.tolist() == first.faces.tolist() == [1, 0] and second.layout == "emotion_folders"
    _save(root / "sad/c.png", _photo(planted["faces"][1]))  # the folder changed: parsed again
    assert len(load_dataset(root)) == 3 and len(calls) == 5


def test_fer_style_48x48_folder_is_not_searched(tmp_path, planted, monkeypatch):
    """48x48 images are FER-style face crops: taken as they are, never detected in (CK+48 is such a folder)."""
    monkeypatch.setattr(face_detection, "detect_faces", lambda *a, **k: pytest.fail("a 48x48 image was searched"))
    root = tmp_path / "ck48"
    names = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
    for k, name in enumerate(names):
        _save(root / name / f"S{k:03d}.png", np.repeat(planted["faces"][k][..., None], 3, -1) if k == 0
              else planted["faces"][k])
    ds = load_dataset(root)
    at = _by_path(ds)
    for k, name in enumerate(names):
        i = at[f"{name}/S{k:03d}.png"]
        np.testing.assert_array_equal(ds.images[i], planted["faces"][k])
        assert FERPLUS_EMOTIONS[ds.labels_in("ferplus")[i]] == {"happy": "happiness"}.get(name, name)
    assert ds.faces.tolist() == [-1] * 7 and ds.photo_faces() == {} and "photos" not in ds.summary()
    assert ds.split.tolist() == [""] * 7


def test_affectnet_id_folders(tmp_path, planted):
    root = tmp_path / "affect"
    for k in range(8):
        _save(root / "train" / str(k) / "x.png", planted["faces"][k])
    ds = load_dataset(root)
    got = [FERPLUS_EMOTIONS[j] for j in ds.labels_in("ferplus")]
    assert got == ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt"]
    assert ds.labels[-1] == -1 and FER2013_EMOTIONS[ds.labels[0]] == "neutral"


# ---- RAF-DB ---------------------------------------------------------------------------------
def _rafdb(root: Path, planted, rows: list[str]) -> Path:
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(rows) + "\n")
    for k, row in enumerate(rows):
        name = row.split()[0]
        stem = Path(name).stem
        _save(root / "Image" / "aligned" / f"{stem}_aligned.jpg", _photo(planted["faces"][k % 10]))
    return root


def test_rafdb_list_file_labels_and_splits(tmp_path, planted):
    rows = [f"train_0000{k}.jpg {k}" for k in range(1, 8)] + ["test_0001.jpg 4"]
    root = _rafdb(tmp_path / "basic", planted, rows)
    assert detect_layout(root) is LAYOUTS["rafdb"]
    ds = load_dataset(root)
    assert [FER2013_EMOTIONS[c] for c in ds.labels] == ["surprise", "fear", "disgust", "happy", "sad", "angry",
                                                         "neutral", "happy"]
    assert ds.split.tolist() == ["Training"] * 7 + ["PrivateTest"]
    assert len(ds.previous_hashes) == 1  # the images-only hash earlier versions gave it: flags carry over
    assert load_dataset(tmp_path / "basic" / "Image").previous_hashes == ()  # no label file: one hash
    assert ds.paths[0] == "Image/aligned/train_00001_aligned.jpg" and ds.layout == "rafdb"
    assert (ds.faces >= 0).all()  # photos (not 48x48): searched for a face


@pytest.mark.parametrize("row, message", [
    ("train_00003.jpg 9", r"list_patition_label.txt, row 2 \(line 3\), field 'label': label '9' is not 1..7"),
    ("train_00003.jpg", r"row 2 \(line 3\): expected '<image name> <label 1-7>'"),
    ("train_00003.jpg happy", r"field 'label': label 'happy' is not 1..7"),
])
def test_rafdb_bad_rows_are_named(tmp_path, planted, row, message):
    root = _rafdb(tmp_path / "raf", planted, ["train_00001.jpg 1", "train_00002.jpg 2"])
    with open(root / "EmoLabel" / "list_patition_label.txt", "a") as f:
        f.write(row + "\n")
    with pytest.raises(DataError, match=message):
        load_dataset(root)


def test_rafdb_missing_image_is_named(tmp_path, planted):
    root = _rafdb(tmp_path / "raf", planted, ["train_00001.jpg 1", "train_00002.jpg 2"])
    (root / "Image" / "aligned" / "train_00002_aligned.jpg").unlink()
    with pytest.raises(DataError, match=r"row 1 \(line 2\), field 'image': image 'train_00002.jpg' is missing: "
                                        r"looked for Image/aligned/train_00002_aligned.jpg"):
        load_dataset(root)


# ---- AffectNet ------------------------------------------------------------------------------
def test_affectnet_annotations(tmp_path, planted):
    root = tmp_path / "AffectNet"
    for set_, ids in (("train_set", (0, 7, 9)), ("val_set", (3,))):
        for k, e in enumerate(ids):
            _save(root / set_ / "images" / f"{k}.jpg", _photo(planted["faces"][e % 10]))
            (root / set_ / "annotations").mkdir(parents=True, exist_ok=True)
            np.save(root / set_ / "annotations" / f"{k}_exp.npy", np.array(str(e)))
            np.save(root / set_ / "annotations" / f"{k}_val.npy", np.array("0.5"))
    ds = load_dataset(root)
    assert ds.layout == "affectnet"
    assert ds.paths.tolist() == ["train_set/images/0.jpg", "train_set/images/1.jpg", "train_set/images/2.jpg",
                                 "val_set/images/0.jpg"]
    assert ds.labels.tolist() == [6, -1, -1, 5]  # neutral, contempt (no FER2013 class), uncertain, surprise
    assert [FERPLUS_EMOTIONS[j] if j >= 0 else None for j in ds.labels_in("ferplus")] == \
        ["neutral", "contempt", None, "surprise"]
    assert ds.split.tolist() == ["Training"] * 3 + ["PrivateTest"]
    np.save(root / "val_set" / "annotations" / "0_exp.npy", np.array("12"))
    with pytest.raises(DataError, match=r"0_exp.npy, field 'expression': expression id 12 is not 0..10"):
        load_dataset(root)
    (root / "val_set" / "annotations" / "0_exp.npy").unlink()
    with pytest.raises(DataError, match=r"0.jpg: no expression annotation: expected val_set/annotations/0_exp.npy"):
        load_dataset(root)


# ---- errors ---------------------------------------------------------------------------------
def test_unknown_emotion_folder_is_named_with_the_accepted_names(tmp_path, planted):
    """A folder beside emotion folders that is no emotion is a misspelling: an error listing the
    accepted names; images outside emotion folders elsewhere are unlabelled."""
    root = tmp_path / "faces"
    _save(root / "train/happy/a.png", planted["faces"][0])
    _save(root / "train/sadd/b.png", planted["faces"][1])
    with pytest.raises(DataError, match=r"faces: folder 'train/sadd' is not an emotion; accepted folder names: "
                                        r"angry, anger, .*contempt.*AffectNet ids 0-7"):
        load_dataset(root)
    (root / "train/sadd/b.png").unlink()
    _save(root / "train/loose.png", planted["faces"][1])  # beside emotion folders, in none: unlabelled
    _save(root / "unsorted/x.png", planted["faces"][1])
    ds = load_dataset(root)
    assert dict(zip(ds.paths.tolist(), ds.labels.tolist())) == {"train/happy/a.png": 3, "train/loose.png": -1,
                                                                "unsorted/x.png": -1}
    _save(root / "train/3/c.png", planted["faces"][2])
    with pytest.raises(DataError, match=r"mixes emotion names \(happy\) with AffectNet ids \(3\)"):
        load_dataset(root)


def test_unreadable_photo_is_named(tmp_path, planted):
    root = tmp_path / "faces"
    _save(root / "happy/a.png", _photo(planted["faces"][0]))
    (root / "happy/b.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(DataError, match=r"b.jpg: unreadable image \(the file starts like a JPEG image but is "
                                        r"corrupt or truncated"):
        load_dataset(root)


def test_unlabelled_folders_stay_unlabelled(tmp_path, planted):
    root = tmp_path / "holiday"
    _save(root / "day1/a.png", _photo(planted["faces"][0]))
    _save(root / "b.png", planted["faces"][1])
    ds = load_dataset(root)
    assert ds.labels.tolist() == [-1, -1] and ds.faces.tolist() == [-1, 1]


# ---- the Dataset page -----------------------------------------------------------------------
def test_dataset_page_counts_photos_with_no_face_or_several(tmp_path, planted, monkeypatch):
    from streamlit.testing.v1 import AppTest

    root = tmp_path / "photos"
    for k in range(3):
        _save(root / f"train/happy/{k}.png", _photo(planted["faces"][k]))
    _save(root / "train/sad/nobody.png", planted["blank"])
    _save(root / "test/sad/two.png", planted["two"][0])
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("FER_CACHE_DIR", str(cache))
    (cache / "settings.json").write_text(json.dumps({"data_source": {"kind": "path", "path": str(root),
                                                                     "ferplus": ""}}))
    at = AppTest.from_file(str(ROOT / "pages" / "dataset.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(m.value for m in at.markdown)
    assert "5 photos were searched for a face; **1** with no face (the whole photo was used); **1** with " \
           "several faces (the largest face was used)" in text, text
    buttons = {b.label: b for b in at.button}
    assert {"Review the 1 with no face", "Review the 1 with several faces"} <= set(buttons)
    listed = [df.value for df in at.dataframe if "faces found" in df.value.columns]
    assert [d["file"].tolist() for d in listed] == [["train/sad/nobody.png"], ["test/sad/two.png"]]
    buttons["Review the 1 with no face"].click().run()
    assert not at.exception
    sel = at.session_state["selection"]
    assert sel.indices.tolist() == listed[0]["index"].tolist() and sel.source == "photos with no face"
