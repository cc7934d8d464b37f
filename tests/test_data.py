"""fer_core.data.dataset: readers, FER+ rules, label sets, every bad-input case names file/row/field."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_testutils import make_pixels, write_fer_csv
from fer_core.data import dataset as D
from fer_core.constants import FER2013_TO_FER6, FERPLUS_VOTE_COLUMNS
from fer_core.data.dataset import DataError, load_dataset, read_fer2013_csv, read_ferplus_csv


def test_reads_plain_and_gz_identically(tmp_path, rng):
    pix = make_pixels(rng, 3)
    rows = [(2, pix[0], "Training"), (5, pix[1], "PublicTest"), (6, pix[2], "PrivateTest")]
    a = read_fer2013_csv(write_fer_csv(tmp_path / "a.csv", rows))
    b = read_fer2013_csv(write_fer_csv(tmp_path / "b.csv.gz", rows, gz=True))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert a["images"].shape == (3, 48, 48) and a["images"].dtype == np.uint8
    np.testing.assert_array_equal(a["images"][1].ravel(), np.array(pix[1].split(), dtype=np.uint8))
    assert a["labels"].tolist() == [2, 5, 6]
    assert a["split"].tolist() == ["Training", "PublicTest", "PrivateTest"]
    assert a["row"].tolist() == [0, 1, 2]


def _bad(tmp_path, rng, mutate, header="emotion,pixels,Usage"):
    pix = make_pixels(rng, 4)
    rows = [[0, pix[0], "Training"], [1, pix[1], "Training"], [2, pix[2], "PublicTest"], [3, pix[3], "PrivateTest"]]
    mutate(rows)
    return write_fer_csv(tmp_path / "bad.csv", [tuple(r) for r in rows], header=header)


@pytest.mark.parametrize("mutate, row, field, words", [
    (lambda r: r[2].__setitem__(1, " ".join(r[2][1].split()[:-1])), 2, "pixels", "got 2303"),
    (lambda r: r[1].__setitem__(1, r[1][1].replace(" ", " x7 ", 1)), 1, "pixels", "non-numeric"),
    (lambda r: r[3].__setitem__(1, "300 " + " ".join(r[3][1].split()[1:])), 3, "pixels", "out of range"),
    (lambda r: r[2].__setitem__(0, 7), 2, "emotion", "out of range"),
    (lambda r: r[0].__setitem__(0, "happy"), 0, "emotion", "not an integer"),
    (lambda r: r[1].__setitem__(0, ""), 1, "emotion", "not an integer"),
    (lambda r: r[3].__setitem__(2, "Validation"), 3, "Usage", "unknown Usage"),
])
def test_bad_values_name_file_row_field(tmp_path, rng, mutate, row, field, words):
    path = _bad(tmp_path, rng, mutate)
    with pytest.raises(DataError) as e:
        read_fer2013_csv(path)
    assert e.value.row == row and e.value.field == field
    msg = str(e.value)
    assert "bad.csv" in msg and f"row {row}" in msg and field in msg and words in msg


def test_missing_column(tmp_path, rng):
    path = tmp_path / "nocol.csv"
    path.write_text("emotion,pixels\n0," + make_pixels(rng, 1)[0] + "\n")
    with pytest.raises(DataError, match=r"nocol.csv.*missing column.*Usage"):
        read_fer2013_csv(path)


def test_empty_and_header_only_and_missing_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv: file is empty"):
        read_fer2013_csv(tmp_path / "empty.csv")
    (tmp_path / "hdr.csv").write_text("emotion,pixels,Usage\n")
    with pytest.raises(DataError, match="no data rows"):
        read_fer2013_csv(tmp_path / "hdr.csv")
    with pytest.raises(DataError, match="nope.csv: file not found"):
        read_fer2013_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "nope.csv")


def test_malformed_csv_line_and_corrupt_gzip(tmp_path, rng):
    pix = make_pixels(rng, 3)
    p = tmp_path / "extra.csv"
    p.write_text(f"emotion,pixels,Usage\n0,{pix[0]},Training\n1,{pix[1]},Training,oops\n2,{pix[2]},Training\n")
    with pytest.raises(DataError, match=r"extra.csv, row 1 \(line 3\): malformed CSV"):
        read_fer2013_csv(p)
    g = tmp_path / "broken.csv.gz"
    g.write_bytes(b"\x1f\x8b\x08\x00not really gzip at all")
    with pytest.raises(DataError, match="broken.csv.gz: cannot read file"):
        read_fer2013_csv(g)


def test_nothing_dropped_on_valid_file(small_csv):
    assert len(read_fer2013_csv(small_csv)["labels"]) == 6


# ---- FER+ ---------------------------------------------------------------------------------
def test_ferplus_majority_rule_hand_cases():
    #          neu hap sur sad ang dis fea con unk NF
    votes = np.array([
        [6, 0, 0, 2, 2, 0, 0, 0, 0, 0],   # neutral 6/10 > half -> neutral
        [4, 0, 0, 1, 3, 2, 0, 0, 0, 0],   # single vote dropped: 4/(4+3+2)=0.44 -> no majority
        [5, 1, 1, 1, 1, 1, 0, 0, 0, 0],   # singles dropped: 5/5 -> neutral
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # NF wins -> excluded
        [0, 0, 0, 0, 0, 0, 0, 0, 7, 3],   # unknown wins -> excluded
        [0, 0, 0, 0, 0, 0, 0, 6, 2, 2],   # contempt 6/10 -> 7
        [0, 0, 5, 5, 0, 0, 0, 0, 0, 0],   # tie at exactly half -> no majority
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],   # no votes -> none
    ])
    assert D.ferplus_majority(votes).tolist() == [0, -1, 0, -1, -1, 7, -1, -1]
    probs = D.ferplus_distribution(votes)
    assert probs.shape == (8, 8)
    np.testing.assert_allclose(probs[0], [0.6, 0, 0, 0.2, 0.2, 0, 0, 0])
    assert probs[3].sum() == 0 and probs[7].sum() == 0


def _ferplus_file(path, usages, votes, names):
    lines = ["Usage,Image name," + ",".join(FERPLUS_VOTE_COLUMNS)]
    for u, v, n in zip(usages, votes, names):
        lines.append(f"{u},{n}," + ",".join(map(str, v)))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ferplus_alignment_and_not_face(tmp_path, small_csv):
    usages = ["Training", "Training", "PublicTest", "PrivateTest", "Training", "PublicTest"]
    votes = [[0, 10, 0, 0, 0, 0, 0, 0, 0, 0]] * 5 + [[0, 0, 0, 0, 0, 0, 0, 0, 0, 10]]
    names = [f"fer{i:07d}.png" for i in range(5)] + [""]
    fp_path = _ferplus_file(tmp_path / "fer2013new.csv", usages, votes, names)
    ds = load_dataset(small_csv, fp_path)
    assert ds.ferplus.not_face.tolist() == [False] * 5 + [True]
    assert ds.ferplus.majority.tolist() == [1] * 5 + [-1]
    # FER2013 labels 0,3,6,1,4,5 vs FER+ happiness (=3) on the 5 faces: only row 1 agrees
    assert ds.ferplus_agreement() == pytest.approx(1 / 5)
    assert ds.labels_in("ferplus").tolist() == [1] * 5 + [-1]
    s = ds.summary()
    assert s["ferplus"]["not_face"] == 1 and s["rows"] == 6


def test_ferplus_row_count_and_usage_mismatch(tmp_path, small_csv):
    v = [[1] * 10] * 5
    short = _ferplus_file(tmp_path / "short.csv", ["Training"] * 5, v, ["a"] * 5)
    with pytest.raises(DataError, match=r"short.csv: has 5 rows but fer2013.csv has 6"):
        load_dataset(small_csv, short)
    usages = ["Training", "Training", "PublicTest", "Training", "Training", "PublicTest"]
    wrong = _ferplus_file(tmp_path / "wrong.csv", usages, [[1] * 10] * 6, ["a"] * 6)
    with pytest.raises(DataError, match=r"wrong.csv, row 3 .*Usage.*not row-aligned"):
        load_dataset(small_csv, wrong)
    neg = _ferplus_file(tmp_path / "neg.csv", ["Training", "Training", "PublicTest", "PrivateTest", "Training",
                                               "PublicTest"], [[1] * 10] * 4 + [[1, -2] + [1] * 8] + [[1] * 10],
                        ["a"] * 6)
    with pytest.raises(DataError, match=r"neg.csv, row 4 .*field 'happiness'"):
        load_dataset(small_csv, neg)


def test_label_sets(small_csv):
    ds = load_dataset(small_csv)
    assert ds.labels.tolist() == [0, 3, 6, 1, 4, 5]
    assert ds.labels_in("fer6").tolist() == [0, 2, 5, 0, 3, 4]  # disgust(1) -> angry(0)
    assert FER2013_TO_FER6.tolist() == [0, 0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="needs FER\\+"):
        ds.labels_in("ferplus")
    with pytest.raises(ValueError, match="unknown label set"):
        ds.labels_in("affectnet")


# ---- image folders ------------------------------------------------------------------------
def test_image_folder_layouts(tmp_path, rng):
    root = tmp_path / "imgs"
    for split, emo in [("train", "happy"), ("train", "sad"), ("test", "angry")]:
        (root / split / emo).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / split / emo / "a.png")
    Image.fromarray(rng.integers(0, 256, (96, 64, 3), dtype=np.uint8)).save(root / "train" / "happy" / "big.jpg")
    ds = load_dataset(root)
    assert len(ds) == 4 and ds.images.shape == (4, 48, 48)
    by_path = dict(zip(ds.paths.tolist(), zip(ds.labels.tolist(), ds.split.tolist())))
    assert by_path["train/happy/big.jpg"] == (3, "Training")
    assert by_path["test/angry/a.png"] == (0, "PrivateTest")
    plain = tmp_path / "plain"
    plain.mkdir()
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(plain / "x.bmp")
    dp = load_dataset(plain)
    assert dp.labels.tolist() == [-1] and dp.split.tolist() == [""]


def test_unreadable_image_in_folder_names_the_file(tmp_path):
    d = tmp_path / "train" / "fear"
    d.mkdir(parents=True)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(DataError, match=r"broken.jpg: unreadable image"):
        load_dataset(tmp_path)
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(DataError, match="empty_folder: no images"):
        load_dataset(tmp_path / "empty_folder")


# ---- caching and CLI ----------------------------------------------------------------------
def test_cache_serves_same_arrays_and_new_file_new_key(small_csv, tmp_path, rng):
    a = load_dataset(small_csv)
    b = load_dataset(small_csv)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.data_hash == b.data_hash
    other = write_fer_csv(tmp_path / "other.csv", [(0, make_pixels(rng, 1)[0], "Training")])
    assert load_dataset(other).data_hash != a.data_hash


def test_bundled_sample_is_stratified():
    ds = load_dataset()
    assert 900 <= len(ds) <= 1100
    assert set(ds.split.tolist()) == {"Training", "PublicTest", "PrivateTest"}
    for s in ("Training", "PublicTest", "PrivateTest"):
        assert set(ds.labels[ds.split == s].tolist()) == set(range(7))
    assert ds.ferplus is not None and len(np.unique(ds.row)) == len(ds)
    assert D.SAMPLE_CSV.stat().st_size < 3.2e6


def test_cli_json(small_csv, capsys):
    assert D.main([str(small_csv), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 6 and out["splits"]["Training"]["total"] == 3
    assert out["splits"]["PublicTest"]["neutral"] == 1


def test_cli_error_exit_code(tmp_path, capsys):
    assert D.main([str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv" in capsys.readouterr().err


FULL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013"


@pytest.mark.skipif(not (FULL / "fer2013.csv.gz").exists(), reason="full FER2013 not present")
def test_full_fer2013_counts():
    ds = load_dataset(FULL / "fer2013.csv.gz", FULL / "fer2013new.csv")
    s = ds.summary()
    assert s["rows"] == 35887
    assert {k: v["total"] for k, v in s["splits"].items()} == {
        "Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    assert s["splits"]["Training"]["disgust"] == 436 and s["splits"]["Training"]["happy"] == 7215
    assert s["ferplus"]["not_face"] == 173
    assert 0.66 < s["ferplus"]["agreement_rate"] < 0.70


def test_rows_of_a_split_and_label_set():
    ds = load_dataset()
    test = ds.rows("PrivateTest")
    assert len(test) == 180 and (ds.split[test] == "PrivateTest").all() and (ds.labels[test] >= 0).all()
    both = ds.rows(("PublicTest", "PrivateTest"))
    assert len(both) == 360 and set(test) <= set(both)
    assert len(ds.rows()) == len(ds)
    fp = ds.rows("PrivateTest", "ferplus")  # rows without a FER+ majority drop out
    assert 0 < len(fp) < 180 and (ds.ferplus.majority[fp] >= 0).all()
    unl = ds.subset(np.arange(10))
    unl.labels[:4] = -1
    assert len(unl.rows()) == 6 and len(unl.rows(labeled=False)) == 10
