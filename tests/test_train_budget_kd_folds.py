"""Training for the GPU run: time budgets, knowledge distillation, K-fold out-of-fold probabilities."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from fer_core.config import TrainConfig
from fer_core.data.dataset import Dataset, load_dataset
from fer_core.models.checkpoint import load_checkpoint, save_checkpoint
from fer_core.models.inference import predict_probs
from fer_core.models.registry import create_model
from fer_core.training import folds
from fer_core.training.train import _Teacher, main, oof_path, plan_epochs, train

TINY = TrainConfig(width=0.25, epochs=2, batch_size=64, max_train_images=192, threads=1)


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


# ---- time budget -----------------------------------------------------------------------------
def test_plan_fits_the_epochs_into_the_time_left():
    # 10 s epochs, 100 s budget, one epoch run: 10 in all
    assert plan_epochs(budget=100, elapsed=10, epoch_seconds=[10], planned=400, max_epochs=400) == 10
    # never above --epochs, never below what has run
    assert plan_epochs(budget=1000, elapsed=10, epoch_seconds=[10], planned=400, max_epochs=30) == 30
    assert plan_epochs(budget=5, elapsed=12, epoch_seconds=[6, 6], planned=10, max_epochs=30) == 2


def test_plan_judges_the_pace_without_the_first_epochs_warm_up():
    # a 20 s first epoch (warm-up), then 5 s epochs: after epoch 2 the plan grows from 5 to 17
    assert plan_epochs(budget=100, elapsed=20, epoch_seconds=[20], planned=400, max_epochs=400) == 5
    assert plan_epochs(budget=100, elapsed=25, epoch_seconds=[20, 5], planned=5, max_epochs=400) == 17


def test_plan_only_shrinks_past_half_of_the_schedule():
    # 6 of 10 epochs run at 5 s; the pace doubles (another job gave the GPU back): no growth
    assert plan_epochs(budget=100, elapsed=30, epoch_seconds=[5] * 6, planned=10, max_epochs=400) == 10
    # the pace halves (other jobs started): the plan shrinks to what fits
    assert plan_epochs(budget=100, elapsed=80, epoch_seconds=[5] * 5 + [20, 20, 20], planned=10,
                       max_epochs=400) == 9


def test_a_budgeted_run_completes_its_schedule_inside_the_budget(sample):
    cfg = replace(TINY, epochs=500, time_budget=6.0)
    _, info = train(cfg, sample, progress=False, device="cpu")
    b, hist = info["metrics"]["time_budget"], info["history"]
    assert b["epochs_run"] == len(hist) == b["planned_epochs"] < 500
    assert b["used_seconds"] <= 6.0 + 2 * max(h["seconds"] for h in hist)
    # the cosine ran to its end: the last step's learning rate is ~0, not cut off halfway
    assert hist[-1]["lr"] < 0.02 * 0.1 * cfg.batch_size / 128 + 1e-9
    assert [h["planned_epochs"] for h in hist][-1] == len(hist)


def test_time_budget_needs_the_cosine_schedule():
    with pytest.raises(ValueError, match="cosine"):
        train(replace(TINY, time_budget=5, schedule="onecycle"), progress=False)


# ---- distillation ----------------------------------------------------------------------------
def _checkpoint(tmp_path, name, *, label_set="fer2013", classes=7, mean=0.3, std=0.2, seed=0):
    torch.manual_seed(seed)
    m = create_model("compact", num_classes=classes, width=0.25).eval()
    return save_checkpoint(tmp_path / f"{name}.pt", m, model_name="compact", model_kwargs={"width": 0.25},
                           label_set=label_set, normalization={"mean": mean, "std": std})


def test_teacher_targets_are_its_flip_tta_probabilities_whatever_the_normalisations(tmp_path, sample):
    path = _checkpoint(tmp_path, "t", mean=0.3, std=0.2)
    model, info = load_checkpoint(path)
    teacher = _Teacher(model, info["normalization"], info["model_hash"], "compact")
    imgs = sample.images[:16]
    student_norm = {"mean": 0.5, "std": 0.25}  # not the teacher's
    x = (torch.from_numpy(imgs).unsqueeze(1).float() / 255 - 0.5) / 0.25
    got = teacher.soft_targets(x, student_norm, 1.0, amp=False).numpy()
    np.testing.assert_allclose(got, predict_probs(model, imgs, tta=True), atol=1e-5)
    hot = teacher.soft_targets(x, student_norm, 4.0, amp=False).numpy()  # a temperature flattens them
    assert (hot.max(1) < got.max(1)).all()


def test_distillation_pulls_the_student_towards_the_teacher(tmp_path, sample):
    teacher = _checkpoint(tmp_path, "t", seed=3)
    tprobs = predict_probs(load_checkpoint(teacher)[0], sample.images, tta=True)
    cfg = replace(TINY, epochs=4, max_train_images=256, erasing=0, lr=0.05)
    plain, _ = train(cfg, sample, progress=False, device="cpu")
    kd, info = train(replace(cfg, teacher=str(teacher), kd_weight=1.0, kd_temperature=1.0), sample, progress=False,
                     device="cpu")

    def agreement(m):
        return (predict_probs(m, sample.images, tta=True).argmax(1) == tprobs.argmax(1)).mean()
    assert agreement(kd) > agreement(plain) + 0.1
    assert info["metrics"]["teacher"]["model_hash"] == load_checkpoint(teacher)[1]["model_hash"]


def test_a_teacher_of_another_label_set_is_refused(tmp_path, sample):
    teacher = _checkpoint(tmp_path, "t8", label_set="ferplus", classes=8)
    with pytest.raises(ValueError, match="label set 'ferplus'.*same label set"):
        train(replace(TINY, teacher=str(teacher)), sample, progress=False, device="cpu")


def test_resuming_with_another_teacher_is_refused(tmp_path, sample):
    t1, t2 = _checkpoint(tmp_path, "t1", seed=1), _checkpoint(tmp_path, "t2", seed=2)
    out = tmp_path / "s.pt"
    train(replace(TINY, teacher=str(t1), out=str(out)), sample, progress=False, device="cpu")
    last = out.with_name("s.last.ckpt")
    with pytest.raises(ValueError, match="teacher"):
        train(replace(TINY, epochs=3, teacher=str(t2), out=str(out)), sample, progress=False, device="cpu",
              resume=last)


# ---- K-fold ----------------------------------------------------------------------------------
def test_folds_are_stratified_and_keep_duplicates_together():
    rng = np.random.default_rng(0)
    n = 400
    images = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    images[100:110] = images[5]  # a group of 11 identical images
    images[200:203] = images[7]
    labels = np.arange(n) % 4
    labels[-3:] = -1
    f = folds.fold_assignment(labels, images, folds=5)
    assert (f[-3:] == -1).all() and set(f[:-3]) == set(range(5))
    assert len(set(f[[5, *range(100, 110)]])) == 1 and len(set(f[[7, 200, 201, 202]])) == 1
    for k in range(5):  # each fold holds about a fifth of each class
        counts = np.bincount(labels[f == k], minlength=4)
        assert counts.min() >= 12, counts
    np.testing.assert_array_equal(f, folds.fold_assignment(labels, images, folds=5))


def _planted(n=240, seed=0):
    rng = np.random.default_rng(seed)
    return Dataset(images=rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), labels=np.arange(n) % 7,
                   split=np.array(["Training", "PublicTest", "PrivateTest"] * n)[:n], row=np.arange(n),
                   source="planted", data_hash="planted")


def test_k_fold_runs_cover_every_row_once_and_merge(tmp_path):
    ds = _planted()
    paths = []
    for f in range(3):
        cfg = replace(TINY, epochs=1, max_train_images=0, folds=3, fold=f, out=str(tmp_path / f"f{f}.pt"))
        _, info = train(cfg, ds, progress=False, device="cpu")
        assert info["oof_path"] == str(oof_path(cfg.out))
        m = info["metrics"]
        assert "held-out fold" in m and "PrivateTest" not in m and m["selection"]["split"] == "last epoch"
        # trained on the other folds' rows of every split
        assert m["n_train"] == int((folds.fold_assignment(ds.labels, ds.images, folds=3) != f).sum())
        paths.append(info["oof_path"])
    probs, info = folds.merge_oof(paths)
    assert probs.shape == (240, 7) and info["covered"] == 240
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    with pytest.raises(ValueError, match=r"fold\(s\) \[2\] of 3 missing"):
        folds.merge_oof(paths[:2])
    with pytest.raises(ValueError, match="given twice"):
        folds.merge_oof([paths[0], *paths])
    other = tmp_path / "other.oof.npz"
    folds.save_oof(other, rows=np.arange(3), probs=np.full((3, 7), 1 / 7), fold=2, folds=3, n=240,
                   data_hash="another", classes=tuple("abcdefg"))
    with pytest.raises(ValueError, match="data_hash .* differs"):
        folds.merge_oof([*paths[:2], other])
    bad = tmp_path / "bad.oof.npz"
    bad.write_text("not a fold file")
    with pytest.raises(ValueError, match="not a fold file"):
        folds.merge_oof([bad])


def test_fold_options_are_checked():
    with pytest.raises(ValueError, match="--fold < K"):
        train(replace(TINY, folds=5, fold=5), progress=False)
    with pytest.raises(ValueError, match="K >= 2"):
        train(replace(TINY, folds=1), progress=False)


def test_train_and_merge_commands(tmp_path, capsys):
    for f in range(2):
        assert main(["--width", "0.25", "--epochs", "1", "--max-train-images", "128", "--threads", "1",
                     "--folds", "2", "--fold", str(f), "--out", str(tmp_path / f"f{f}.pt"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "held-out fold: accuracy" in out and "f1.oof.npz" in out
    assert folds.main(["merge", "--out", str(tmp_path / "oof.npy"), str(tmp_path / "f0.oof.npz"),
                       str(tmp_path / "f1.oof.npz")]) == 0
    assert np.load(tmp_path / "oof.npy").shape == (1000, 7)
    assert folds.main(["merge", "--out", str(tmp_path / "x.npy"), str(tmp_path / "f0.oof.npz")]) == 2
    assert "missing" in capsys.readouterr().err
