"""Training: augmentation, losses, sampling, label corrections, a short run on the sample, CLI."""
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fer_core.models.checkpoint import load_checkpoint
from fer_core.config import TrainConfig
from fer_core.data.dataset import load_dataset
from fer_core.models.registry import create_model
from fer_core.training.train import (_class_weights, _epoch_order, apply_label_corrections, augment_batch, main,
                            random_erasing, soft_cross_entropy, train)

NO_AUG = TrainConfig(hflip=False, shift=0, rotation=0, scale=0, brightness=0, contrast=0, erasing=0)
TINY = TrainConfig(width=0.5, epochs=2, batch_size=64, max_train_images=256, threads=2)


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 48, 48, generator=g)


# ---- augmentation -----------------------------------------------------------------------
def test_no_augmentation_is_the_identity():
    x = _batch()
    torch.testing.assert_close(augment_batch(x, NO_AUG, torch.Generator().manual_seed(0)), x)


def test_flip_only_gives_each_image_or_its_mirror():
    x = _batch(64)
    y = augment_batch(x, replace(NO_AUG, hflip=True), torch.Generator().manual_seed(0))
    same = (y == x).flatten(1).all(1)
    mirrored = (y == x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()


def test_full_augmentation_stays_in_range_and_is_seeded():
    x = _batch(32)
    cfg = TrainConfig()
    a = augment_batch(x, cfg, torch.Generator().manual_seed(1))
    b = augment_batch(x, cfg, torch.Generator().manual_seed(1))
    c = augment_batch(x, cfg, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_noise_augmentation_adds_seeded_noise_of_the_set_variance():
    x = torch.full((64, 1, 48, 48), 0.5)
    cfg = replace(NO_AUG, noise=0.1)
    a = augment_batch(x, cfg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, augment_batch(x, cfg, torch.Generator().manual_seed(0)))
    assert a.min() >= 0 and a.max() <= 1
    var = (a - x).flatten(1).var(1)
    assert var.max() <= 0.1 * 1.2 and 0.03 < var.mean() < 0.07  # U[0, 0.1]: mean 0.05


def test_pure_shift_moves_a_dot():
    """A translation of 0.1 x 48 px moves a bright pixel by at most ~5 px."""
    x = torch.zeros(8, 1, 48, 48)
    x[:, :, 24, 24] = 1.0
    y = augment_batch(x, replace(NO_AUG, shift=0.1), torch.Generator().manual_seed(0))
    for img in y[:, 0]:
        r, c = np.unravel_index(int(img.argmax()), (48, 48))
        assert abs(r - 24) <= 6 and abs(c - 24) <= 6


def test_random_erasing():
    x = torch.ones(64, 1, 48, 48)
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(random_erasing(x, 0.0, g), x)
    y = random_erasing(x, 1.0, g)
    erased = (y == 0).flatten(1).float().mean(1)
    assert (erased > 0).all() and (erased <= 0.3).all()  # one rectangle of 2-25 % per image


# ---- loss and sampling ------------------------------------------------------------------
def test_soft_cross_entropy_matches_torch_on_one_hot_targets():
    torch.manual_seed(0)
    logits, y = torch.randn(10, 7), torch.randint(0, 7, (10,))
    onehot = F.one_hot(y, 7).float()
    torch.testing.assert_close(soft_cross_entropy(logits, onehot), F.cross_entropy(logits, y))
    torch.testing.assert_close(soft_cross_entropy(logits, onehot, smoothing=0.1),
                               F.cross_entropy(logits, y, label_smoothing=0.1))


def _soft_ce_by_hand(logits, target, class_weights=None, smoothing=0.0):
    """The formula soft_cross_entropy computed by hand before it called F.cross_entropy."""
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / logits.shape[1]
    per = -(target * F.log_softmax(logits.float(), 1))
    if class_weights is not None:
        per = per * class_weights
    return per.sum(1).mean()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_soft_cross_entropy_is_the_written_out_formula(weighted, smoothing):
    """F.cross_entropy with probability targets, class weights and label smoothing: mean over
    the batch of -sum_c w_c y'_c log softmax_c, y' = y (1 - eps) + eps / K (vote distributions,
    mixup pairs)."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 8, generator=g) * 3
    target = torch.softmax(torch.randn(32, 8, generator=g), 1)
    w = torch.rand(8, generator=g) * 2 if weighted else None
    got = soft_cross_entropy(logits, target, class_weights=w, smoothing=smoothing)
    torch.testing.assert_close(got, _soft_ce_by_hand(logits, target, w, smoothing), rtol=1e-6, atol=1e-6)
    bf16 = logits.to(torch.bfloat16)  # autocast's logits: computed in float32 all the same
    torch.testing.assert_close(soft_cross_entropy(bf16, target, class_weights=w, smoothing=smoothing),
                               _soft_ce_by_hand(bf16, target, w, smoothing), rtol=1e-6, atol=1e-6)


def _class_weights_by_hand(y, k):
    counts = np.bincount(y, minlength=k).astype(np.float64)
    present = counts > 0
    w = np.zeros(k)
    w[present] = len(y) / (present.sum() * counts[present])
    return w.astype(np.float32)


def test_class_weights_are_the_inverse_frequency_formula():
    y = np.random.default_rng(0).choice(6, 500, p=[0.5, 0.2, 0.1, 0.1, 0.1, 0.0])  # class 5 absent
    np.testing.assert_allclose(_class_weights(y, 7), _class_weights_by_hand(y, 7), rtol=1e-6)
    assert _class_weights(y, 7)[5:].tolist() == [0, 0] and _class_weights(y, 7).dtype == np.float32


def test_imbalance_sampling_modes():
    y = np.array([0] * 90 + [1] * 10)
    rng = np.random.default_rng(0)
    assert sorted(_epoch_order(y, 2, "none", rng)) == list(range(100))
    under = _epoch_order(y, 2, "undersample", rng)
    assert np.bincount(y[under]).tolist() == [10, 10]
    over = np.concatenate([_epoch_order(y, 2, "oversample", rng) for _ in range(20)])
    share = np.bincount(y[over]) / len(over)
    assert abs(share[1] - 0.5) < 0.05
    w = _class_weights(y, 3)
    assert w[2] == 0 and w[1] == pytest.approx(9 * w[0])


# ---- label corrections ------------------------------------------------------------------
def test_label_corrections_apply_and_exclude(tmp_path):
    csv = tmp_path / "fix.csv"
    csv.write_text("row,corrected_label,decision\n10,happy,mislabeled\n11,,not a face\n12,,mislabeled\n"
                   "14,,duplicate\n999,,not_error\n")
    rows = np.array([10, 11, 12, 13])
    labels = np.array([4, 4, 4, 4])
    known = np.array([10, 11, 12, 13, 14, 999])
    new, keep, counts = apply_label_corrections(rows, labels, str(csv), known_rows=known)
    assert new.tolist() == [3, 4, 4, 4] and keep.all()
    new, keep, counts = apply_label_corrections(rows, labels, str(csv), exclude_flagged=True, known_rows=known)
    assert keep.tolist() == [True, False, False, True]  # a corrected image stays; one without a label goes
    assert counts == {"listed": 5, "applied": 3, "corrected": 1, "excluded": 2, "outside": 2}
    with pytest.raises(ValueError, match="not in the data"):
        apply_label_corrections(rows, labels, str(csv))  # 14 and 999 are no rows of this data
    csv.write_text("row,corrected_label\n10,grumpy\n")
    with pytest.raises(ValueError, match="grumpy"):
        apply_label_corrections(rows, labels, str(csv))
    with pytest.raises(FileNotFoundError):
        apply_label_corrections(rows, labels, str(tmp_path / "none.csv"))


# ---- learning -----------------------------------------------------------------------------
def test_a_few_steps_overfit_a_fixed_batch(sample):
    torch.manual_seed(0)
    model = create_model("compact", width=0.5)
    x = (torch.from_numpy(sample.images[:64]).unsqueeze(1).float() / 255 - 0.5) / 0.25
    y = F.one_hot(torch.from_numpy(sample.labels[:64]), 7).float()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = soft_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_train_on_the_sample_selects_on_public_test(tmp_path, sample):
    out = tmp_path / "m.pt"
    seen = []
    model, info = train(replace(TINY, out=str(out)), sample, progress=False, callback=seen.append)
    hist = info["history"]
    assert [h["epoch"] for h in hist] == [1, 2] and seen == hist
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "val_top3", "lr", "seconds"} <= set(hist[0])
    sel = info["metrics"]["selection"]
    assert sel["split"] == "PublicTest"
    assert sel["epoch"] == 1 + int(np.argmax([h["val_acc"] for h in hist]))
    assert info["metrics"]["PrivateTest"]["n"] == int((sample.split == "PrivateTest").sum())
    assert info["metrics"]["n_train"] == 256
    assert not model.training and model.label_set == "fer2013"
    loaded, linfo = load_checkpoint(out)
    assert linfo["train_config"]["width"] == 0.5 and linfo["history"] == hist
    assert linfo["data_hash"] == sample.data_hash


def test_training_is_seeded(sample):
    cfg = replace(TINY, epochs=1, max_train_images=128)
    _, a = train(cfg, sample, progress=False)
    _, b = train(cfg, sample, progress=False)
    assert a["history"][0]["train_loss"] == pytest.approx(b["history"][0]["train_loss"], rel=1e-5)


@pytest.mark.parametrize("overrides, k", [
    ({"label_set": "fer6", "imbalance": "class_weights", "mixup": 0.2, "schedule": "onecycle"}, 6),
    ({"label_set": "ferplus", "ferplus_target": "distribution", "optimizer": "adamw", "imbalance": "oversample"}, 8),
    ({"label_set": "ferplus", "imbalance": "undersample", "label_smoothing": 0.1}, 8),
])
def test_label_sets_and_options_run(sample, overrides, k):
    model, info = train(replace(TINY, epochs=1, **overrides), sample, progress=False)
    assert model.num_classes == k and info["label_set"] == overrides["label_set"]
    assert np.isfinite(info["history"][0]["train_loss"])


def test_bad_configs_raise_clearly(sample):
    with pytest.raises(ValueError, match="unknown model 'nope'.*compact"):
        train(replace(TINY, model="nope"), sample, progress=False)
    no_fp = sample.subset(np.arange(len(sample)))
    no_fp.ferplus = None
    with pytest.raises(ValueError, match="ferplus.*--ferplus"):
        train(replace(TINY, label_set="ferplus"), no_fp, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        train(replace(TINY, optimizer="rmsprop"), sample, progress=False)
    with pytest.raises(ValueError, match="not found"):
        train(replace(TINY, data="/no/such/fer2013.csv"), progress=False)


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    rc = main(["--epochs", "1", "--width", "0.5", "--max-train-images", "128", "--batch-size", "64",
               "--threads", "2", "--out", str(out), "--no-progress"])
    assert rc == 0 and out.is_file()
    assert "epoch   1" in capsys.readouterr().out
    assert main(["--data", str(tmp_path / "missing.csv"), "--no-progress"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["--data", str(out), "--label-set", "ferplus", "--no-progress"]) == 2
    assert "--ferplus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--optimizer", "rmsprop"])


def test_train_applies_label_corrections(tmp_path, sample):
    rows = sample.row[sample.split == "Training"][:5]
    test_row = sample.row[sample.split == "PrivateTest"][0]
    csv = tmp_path / "fix.csv"
    csv.write_text("row,corrected_label,decision\n" + f"{rows[0]},happy,mislabeled\n{rows[1]},,not a face\n"
                   + f"{rows[2]},,mislabeled\n{test_row},happy,mislabeled\n")
    cfg = replace(TINY, epochs=1, max_train_images=0, label_corrections=str(csv), exclude_flagged=True)
    _, info = train(cfg, sample, progress=False)
    n_train = int((sample.split == "Training").sum())
    assert info["metrics"]["n_train"] == n_train - 2  # test rows are never touched
    c = info["metrics"]["label_corrections"]
    assert c["excluded"] == 2 and c["listed"] == 4 and c["outside"] == 1 and len(c["file_hash"]) == 32


# ---- resumable runs -------------------------------------------------------------------------
class _Stop(Exception):
    pass


def _stop_after(n):
    def cb(rec):
        if rec["epoch"] == n:
            raise _Stop
    return cb


def _no_seconds(hist):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in hist]


def test_a_stopped_run_resumes_to_the_uninterrupted_result(tmp_path, sample):
    """4 epochs in one go against 2 epochs, a stop, and a resume from .last.ckpt. Weights, optimiser
    momentum, schedule and every random state are restored, so the resumed run does the same
    operations on the same values in the same order as the uninterrupted one (same process,
    same thread count): the results are the same bits, and any difference means some state was
    not carried over. On the CPU: cuDNN picks kernels with atomic sums, so a GPU run is not
    bit-reproducible even uninterrupted."""
    cfg = replace(TINY, epochs=4, max_train_images=128, threads=1, mixup=0.2, dropout=0.3)
    model_a, a = train(replace(cfg, out=str(tmp_path / "a.pt")), sample, progress=False, device="cpu")
    assert (tmp_path / "a.last.ckpt").is_file()
    part = replace(cfg, out=str(tmp_path / "b.pt"))
    with pytest.raises(_Stop):
        train(part, sample, progress=False, device="cpu", callback=_stop_after(2))
    last = tmp_path / "b.last.ckpt"
    assert not (tmp_path / "b.pt").exists() and last.is_file()
    assert not list(tmp_path.glob("*.tmp"))  # written atomically
    seen = []
    model_b, b = train(part, sample, progress=False, device="cpu", resume=last, callback=seen.append)
    assert [r["epoch"] for r in seen] == [3, 4]  # the finished epochs are not redone
    assert [h["epoch"] for h in b["history"]] == [1, 2, 3, 4]
    assert _no_seconds(b["history"]) == _no_seconds(a["history"])
    sa, sb = model_a.state_dict(), model_b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    drop = ("train_seconds",)
    assert {k: v for k, v in b["metrics"].items() if k not in drop} == \
        {k: v for k, v in a["metrics"].items() if k not in drop}
    _, la = load_checkpoint(tmp_path / "a.pt")
    _, lb = load_checkpoint(tmp_path / "b.pt")
    assert _no_seconds(lb["history"]) == _no_seconds(la["history"])
    # .last.ckpt is an ordinary checkpoint too: the last epoch's float32 weights
    _, info_last = load_checkpoint(tmp_path / "a.last.ckpt")
    assert info_last["train_state"]["epoch"] == 4 and len(info_last["history"]) == 4


def test_resume_refuses_a_run_that_would_differ(tmp_path, sample):
    cfg = replace(TINY, epochs=2, max_train_images=128, threads=1, out=str(tmp_path / "r.pt"))
    with pytest.raises(_Stop):
        train(cfg, sample, progress=False, callback=_stop_after(1))
    last = tmp_path / "r.last.ckpt"
    with pytest.raises(ValueError, match=r"cannot resume .*width \(0.5 in the checkpoint, 0.25 now\)"):
        train(replace(cfg, width=0.25), sample, progress=False, resume=last)
    with pytest.raises(ValueError, match="epochs"):
        train(replace(cfg, epochs=3), sample, progress=False, resume=last)
    other = replace(sample, data_hash="another")  # the same arrays from another file
    with pytest.raises(ValueError, match="training data"):
        train(cfg, other, progress=False, resume=last)
    with pytest.raises(ValueError, match="no training state"):  # the selected checkpoint, not .last.ckpt
        train(cfg, sample, progress=False, resume=_selected(tmp_path, sample))
    with pytest.raises(FileNotFoundError, match="not found"):
        train(cfg, sample, progress=False, resume=tmp_path / "missing.last.ckpt")
    # where the files are and how many threads may change
    _, info = train(replace(cfg, threads=2, out=str(tmp_path / "moved.pt")), sample, progress=False, resume=last)
    assert [h["epoch"] for h in info["history"]] == [1, 2]


def _selected(tmp_path, sample):
    out = tmp_path / "sel.pt"
    train(replace(TINY, epochs=1, max_train_images=64, threads=1, out=str(out)), sample, progress=False)
    return out


def test_cli_resume(tmp_path, capsys, monkeypatch):
    import fer_core.training.train as tr

    out = tmp_path / "cli.pt"
    args = ["--epochs", "2", "--width", "0.5", "--max-train-images", "128", "--batch-size", "64",
            "--threads", "1", "--out", str(out), "--no-progress"]
    real = tr._train_epoch

    def stop_in_epoch_2(config, st, data, run, epoch, norm):
        if epoch == 2:
            raise _Stop
        return real(config, st, data, run, epoch, norm)

    monkeypatch.setattr(tr, "_train_epoch", stop_in_epoch_2)
    with pytest.raises(_Stop):
        main(args)
    monkeypatch.setattr(tr, "_train_epoch", real)
    capsys.readouterr()
    last = tmp_path / "cli.last.ckpt"
    assert main(["--resume", str(last), "--epochs", "3"]) == 2  # changes the run
    assert "epochs (2 in the checkpoint, 3 now)" in capsys.readouterr().err
    assert main(["--resume", str(last), "--no-progress"]) == 0  # the stopped run's settings
    printed = capsys.readouterr().out
    assert "epoch   2" in printed and "epoch   1" not in printed
    _, info = load_checkpoint(out)
    assert [h["epoch"] for h in info["history"]] == [1, 2] and info["train_config"]["width"] == 0.5
    assert main(["--resume", str(tmp_path / "nope.last.ckpt")]) == 2
    assert "not found" in capsys.readouterr().err
