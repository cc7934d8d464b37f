"""Label corrections: applying them, training with them (CLI), and the before/after report."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from fer_core.training.corrections import apply_corrections, compare_checkpoints, excluded_mask
from fer_core.training.corrections import main as corrections_main
from fer_core.data.dataset import load_dataset
from fer_core.training.evaluate import evaluate
from fer_core.data.flags import FlagError, FlagStore, read_corrections
from fer_core.training.train import main as train_main

TINY_ARGS = ["--epochs", "1", "--width", "0.25", "--max-train-images", "128", "--batch-size", "64",
             "--threads", "1", "--no-progress"]


def _frame(recs):
    return pd.DataFrame(recs, columns=["row", "corrected_label", "decision"]).astype(
        {"row": "int64", "corrected_label": "int64"})


def test_apply_corrections_planted():
    rows = np.array([30, 10, 20, 40, 50])  # any order, as Dataset.row of a subset
    labels = np.array([0, 1, 2, 3, 4])
    corr = _frame([(10, 5, "mislabeled"), (20, -1, "mislabeled"), (40, -1, "not_face"), (50, -1, "duplicate"),
                   (30, -1, "not_error"), (60, 6, "mislabeled")])
    assert excluded_mask(corr).tolist() == [False, True, True, True, False, False]
    new, keep, counts = apply_corrections(rows, labels, corr, known_rows=np.arange(0, 100, 10))
    assert new.tolist() == [0, 5, 2, 3, 4] and keep.all()
    new, keep, counts = apply_corrections(rows, labels, corr, exclude_flagged=True, known_rows=np.arange(0, 100, 10))
    assert keep.tolist() == [True, True, False, False, False]
    assert counts == {"listed": 6, "applied": 5, "corrected": 1, "excluded": 3, "outside": 1}
    # a label equal to the original counts as listed, not as corrected
    _, _, counts = apply_corrections(rows, labels, _frame([(10, 1, "mislabeled")]))
    assert counts["corrected"] == 0 and counts["applied"] == 1


def test_rows_not_in_the_data_are_an_error():
    corr = _frame([(10, 5, "mislabeled"), (77, 1, "mislabeled"), (12345, -1, "not_face")])
    with pytest.raises(FlagError, match=r"2 listed row\(s\) are not in the data \(77, 12345"):
        apply_corrections(np.array([10, 20]), np.array([0, 0]), corr)
    with pytest.raises(ValueError, match="one length"):
        apply_corrections(np.array([10, 20]), np.array([0]), corr)


# ---- end to end on the bundled sample --------------------------------------------------------
@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sample):
    """A flags CSV made through FlagStore, and a 1-epoch model trained without and with it (CLI)."""
    tmp = tmp_path_factory.mktemp("runs")
    flags = FlagStore(tmp / "flags.sqlite")
    h = sample.data_hash
    train_rows = sample.row[sample.split == "Training"]
    test_idx = np.flatnonzero(sample.split == "PrivateTest")
    for r in train_rows[:20]:
        flags.add(data_hash=h, row=int(r), decision="mislabeled", label=3, note="looks happy")
    for r in train_rows[20:25]:
        flags.add(data_hash=h, row=int(r), decision="not_face")
    flags.add(data_hash=h, row=int(train_rows[25]), decision="mislabeled")  # no better label known
    flags.add(data_hash=h, row=int(train_rows[26]), decision="not_error")
    for i in test_idx[:6]:  # test images: relabeled (3) and flagged not a face (3)
        if i in test_idx[:3]:
            flags.add(data_hash=h, row=int(sample.row[i]), decision="mislabeled", label=(sample.labels[i] + 1) % 7)
        else:
            flags.add(data_hash=h, row=int(sample.row[i]), decision="not_face")
    csv = tmp / "flags.csv"
    csv.write_text(flags.export_csv(h, sample.labels, rows=sample.row))
    before, after = tmp / "before.pt", tmp / "after.pt"
    assert train_main(TINY_ARGS + ["--out", str(before)]) == 0
    # all Training images (the last --max-train-images wins), so the exclusions show in n_train
    assert train_main(TINY_ARGS + ["--max-train-images", "0", "--label-corrections", str(csv),
                                   "--exclude-flagged", "--out", str(after)]) == 0
    return {"csv": csv, "before": before, "after": after, "test_idx": test_idx}


def test_training_with_corrections_records_them_in_the_checkpoint(runs, sample):
    ckpt = torch.load(runs["after"], map_location="cpu", weights_only=True)
    cfg = ckpt["train_config"]
    assert cfg["label_corrections"] == str(runs["csv"]) and cfg["exclude_flagged"] is True
    c = ckpt["metrics"]["label_corrections"]
    assert c["listed"] == 33 and c["applied"] == 27 and c["outside"] == 6
    assert c["excluded"] == 6  # 5 not_face + 1 mislabeled without a label; the 20 relabeled stay
    relabeled = np.flatnonzero(sample.split == "Training")[:20]
    assert c["corrected"] == int((sample.labels[relabeled] != 3).sum()) > 0
    assert (read_corrections(runs["csv"])["corrected_label"] >= 0).sum() == 23  # 20 Training + 3 test
    assert ckpt["metrics"]["n_train"] == int((sample.split == "Training").sum()) - 6
    before = torch.load(runs["before"], map_location="cpu", weights_only=True)
    assert before["train_config"]["label_corrections"] == "" and "label_corrections" not in before["metrics"]


def test_train_rejects_corrections_for_other_data(tmp_path, capsys):
    bad = tmp_path / "other.csv"
    bad.write_text("row,original_label,corrected_label,decision,note\n999999,sad,happy,mislabeled,\n")
    assert train_main(TINY_ARGS + ["--label-corrections", str(bad), "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert "999999" in err and "not in the data" in err and not (tmp_path / "x.pt").exists()
    bad.write_text("row,corrected_label,decision\n5,happy,maybe\n")
    assert train_main(TINY_ARGS + ["--label-corrections", str(bad)]) == 2
    assert "CSV row 1 (line 2), field 'decision'" in capsys.readouterr().err


def test_report_before_after(runs, sample, capsys):
    args = ["report", "--before", str(runs["before"]), "--after", str(runs["after"]),
            "--label-corrections", str(runs["csv"])]
    assert corrections_main(args + ["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    table = pd.DataFrame(rows).set_index(["split", "target"])
    n_priv = int((sample.split == "PrivateTest").sum())
    n_pub = int((sample.split == "PublicTest").sum())
    assert table.loc[("PrivateTest", "original"), "n"] == n_priv
    assert table.loc[("PrivateTest", "corrected"), "n"] == n_priv - 3  # the 3 not-a-face images left out
    assert table.loc[("PrivateTest", "corrected"), "changed"] == 3
    assert table.loc[("PublicTest", "corrected"), "n"] == n_pub and table.loc[("PublicTest", "corrected"), "changed"] == 0
    assert ("PrivateTest", "FER+ majority") in table.index  # the bundled sample carries FER+ votes
    for _, r in table.iterrows():
        assert 0 <= r["before"] <= 1 and r["change"] == pytest.approx(r["after"] - r["before"])
    # the original-label accuracy is what `evaluate` reports for the same checkpoint
    ev = evaluate(str(runs["before"]), sample, split="PrivateTest")
    assert table.loc[("PrivateTest", "original"), "before"] == pytest.approx(ev["accuracy"])
    assert corrections_main(args) == 0
    out = capsys.readouterr().out
    assert "corrected" in out and "FER+ majority" in out and " pt" in out


def test_report_errors(runs, capsys, tmp_path):
    assert corrections_main(["report", "--before", str(runs["before"])]) == 2
    assert "--after" in capsys.readouterr().err
    assert corrections_main(["report", "--before", str(runs["before"]), "--after", str(tmp_path / "none.pt")]) == 2
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        corrections_main(["nonsense"])


def test_compare_checkpoints_without_corrections(runs, sample):
    t = compare_checkpoints(sample.subset(np.flatnonzero(sample.split != "PublicTest")), runs["before"], runs["after"],
                            splits=("PrivateTest",))
    assert t["target"].tolist() == ["original", "FER+ majority"] and (t["changed"][:1] == 0).all()
    with pytest.raises(ValueError, match="no rows in split"):
        compare_checkpoints(sample.subset(np.flatnonzero(sample.split == "Training")), runs["before"], runs["after"])
