"""fer_core.analysis.label_errors: rankings on planted flips, precision@k, out-of-fold probabilities,
outlier signals on planted non-faces, the cached job and the CLI on the bundled sample."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from fer_core.analysis import label_errors as le
from fer_core.data.dataset import load_dataset

pytestmark = pytest.mark.usefixtures("module_cache")  # build each sample artifact once per module


def planted(rng, n=400, k=4, flips=20, conf=0.85):
    """Confident probabilities of the true class; `flips` labels changed to another class."""
    true = rng.integers(0, k, n)
    p = np.full((n, k), (1 - conf) / (k - 1))
    p[np.arange(n), true] = conf
    p += rng.uniform(0, 0.05, p.shape)
    p /= p.sum(1, keepdims=True)
    labels = true.copy()
    flipped = rng.choice(n, flips, replace=False)
    labels[flipped] = (true[flipped] + rng.integers(1, k, flips)) % k
    return labels, p, flipped, true


@pytest.mark.parametrize("method", le.METHODS)
def test_planted_flips_rank_first(rng, method):
    labels, p, flipped, true = planted(rng)
    emb = np.eye(4)[true] + rng.normal(0, 0.05, (len(true), 4))  # neighbours carry the true class
    if method == "ensemble":
        s = le.rank_ensemble(labels, p, model_probs=p, neighbor_probs=le.neighbor_label_distribution(emb, labels, k=10, n_classes=4))
    elif method == "study":
        s = le.rank_study(labels, p)
    elif method == "cleanlab":
        s, issue = le.rank_confident_learning(labels, p)
        # cleanlab's flags are all true flips (it estimates how many there are, here a few short)
        assert set(np.flatnonzero(issue)) <= set(flipped) and issue.sum() >= 0.7 * len(flipped)
    else:
        s = le.rank_self_confidence(labels, p)
    top = np.argsort(-s, kind="stable")[:len(flipped)]
    assert set(top) == set(flipped)


def test_neighbor_label_distribution_counts_the_self_excluded_neighbours(rng):
    """KNeighborsClassifier.predict_proba(None) gives the same distribution as counting the labels
    of knn_graph's neighbours (cosine: on unit rows) by hand, plus the prior."""
    from fer_core.analysis.embed import knn_graph
    x = rng.normal(0, 1, (150, 8)).astype(np.float32)
    labels = rng.integers(0, 5, 150)
    labels[labels == 4] = 3      # class 4 absent: its column gets only the prior
    k, prior, n_classes = 7, 0.1, 5
    got = le.neighbor_label_distribution(x, labels, k=k, n_classes=n_classes, prior=prior)
    nb, _ = knn_graph(x / np.linalg.norm(x, axis=1, keepdims=True), k=k)
    counts = np.stack([(labels[nb] == c).sum(1) for c in range(n_classes)], 1)
    np.testing.assert_allclose(got, (counts + prior / n_classes) / (k + prior), rtol=0, atol=1e-12)
    assert got.shape == (150, 5) and np.allclose(got.sum(1), 1) and np.allclose(got[:, 4], prior / 5 / (k + prior))
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.4"):
        le.neighbor_label_distribution(x, np.full(150, 5), k=k, n_classes=n_classes)
    with pytest.raises(ValueError, match=r"embeddings must be \(N, D\)"):
        le.neighbor_label_distribution(x[:, 0], labels, k=k, n_classes=n_classes)


def test_suggested_label_is_never_the_given_one(rng):
    labels, p, flipped, true = planted(rng)
    sug = le.suggested_labels(labels, p)
    assert (sug != labels).all()
    assert (sug[flipped] == true[flipped]).all()


def test_precision_at_k_hand_case():
    scores = np.array([0.9, 0.8, 0.1, 0.5, 0.7])
    err = np.array([1, 0, 1, 0, 1], bool)
    assert le.precision_at_k(scores, err, ks=(1, 2, 3)) == {1: 1.0, 2: 0.5, 3: pytest.approx(2 / 3)}
    # rows without a ground truth are skipped, not counted as misses
    valid = np.array([True, False, True, True, True])
    assert le.precision_at_k(scores, err, ks=(2, 4, 5), valid=valid) == {2: 1.0, 4: 0.75, 5: pytest.approx(float("nan"), nan_ok=True)}


@pytest.mark.parametrize("labels, probs, msg", [
    (np.array([0, 1]), np.array([[0.5, 0.5]]), "labels must be"),
    (np.array([0, 3]), np.array([[0.5, 0.5], [0.5, 0.5]]), "labels must be in 0..1"),
    (np.array([0, 1]), np.array([[0.9, 0.9], [0.5, 0.5]]), "rows summing to 1"),
    (np.array([0.0, 1.0]), np.array([[0.5, 0.5], [0.5, 0.5]]), "integers"),
    (np.array([0, 1]), np.array([0.5, 0.5]), r"\(N, K\)"),
])
def test_bad_inputs_are_named(labels, probs, msg):
    with pytest.raises(ValueError, match=msg):
        le.rank_study(labels, probs)


def test_folds_stratified_and_reproducible(rng):
    labels = np.repeat(np.arange(3), [50, 30, 20])
    labels = np.r_[labels, -1, -1]
    f1 = le.fold_ids(labels, folds=5, seed=3)
    assert (f1 == le.fold_ids(labels, folds=5, seed=3)).all()
    assert (f1[-2:] == -1).all()
    for f in range(5):  # each fold holds a fifth of every class
        assert np.bincount(labels[f1 == f], minlength=3).tolist() == [10, 6, 4]


def test_cross_val_probs_are_out_of_fold(rng):
    """One-hot row-identity features with random labels: a model scoring its own training rows
    would be ~100% right; out of fold it can only be at chance."""
    n, k = 300, 3
    labels = rng.integers(0, k, n)
    feats = np.eye(n)
    p = le.cross_val_probs_features(feats, labels, le.fold_ids(labels, folds=5, seed=0), C=10.0, n_classes=k)
    assert p.shape == (n, k) and np.allclose(p.sum(1), 1)
    assert (p.argmax(1) == labels).mean() < 0.5


def test_cross_val_probs_equal_cross_val_predict_on_labeled_rows(rng):
    """scikit-learn's cross_val_predict(method="predict_proba") with the same folds gives the same
    out-of-fold probabilities; the own loop is kept because it also predicts unlabeled rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    n, k = 240, 4
    labels = rng.integers(0, k, n)
    feats = rng.normal(0, 1, (n, 6)) + labels[:, None] * 0.7
    folds = le.fold_ids(labels, folds=4, seed=0)
    ours = le.cross_val_probs_features(feats, labels, folds, C=0.5, n_classes=k)
    cv = [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in range(4)]
    theirs = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=300)),
                               feats, labels, cv=cv, method="predict_proba")
    np.testing.assert_allclose(ours, le._renorm(theirs), rtol=0, atol=1e-9)


def test_outlier_signals_find_planted_non_faces(rng):
    ds = load_dataset()
    faces = ds.images[:300].copy()
    blank = np.full((5, 48, 48), 7, np.uint8)
    text = np.full((5, 48, 48), 255, np.uint8)
    text[:, 10:12, 5:40] = 0  # black "lines of text" on white
    text[:, 20:22, 5:30] = 0
    images = np.concatenate([faces, blank, text])
    sig = le.pixel_signals(images)
    score = le.rank_outliers(sig)
    assert set(np.argsort(-score)[:10]) == set(range(300, 310))
    # isolation: copies of a point do not hide it; a far point is the most isolated
    emb = np.eye(8)[0] + rng.normal(0, 0.1, (100, 8))  # one cluster (cosine distance)
    emb[:3] = np.eye(8)[7]  # three identical copies pointing elsewhere
    iso = le.isolation(emb, k=5)
    assert set(np.argsort(-iso)[:3]) == {0, 1, 2}


@pytest.fixture(scope="module")
def flipped_sample():
    """The bundled sample with 20 confidently-classified Training images given a wrong label."""
    from fer_core.analysis.predictions import get_predictions
    ds = load_dataset()
    p = get_predictions(ds, "compact")["probs"]
    ok = np.flatnonzero((ds.labels >= 0) & (p[np.arange(len(ds)), np.maximum(ds.labels, 0)] > 0.8))
    flipped = np.random.default_rng(1).choice(ok, 20, replace=False)
    labels = ds.labels.copy()
    labels[flipped] = p[flipped].argmin(1)
    return dataclasses.replace(ds, labels=labels, data_hash=ds.data_hash + "-flipped"), flipped


@pytest.mark.parametrize("mode", ["features-cv", "model"])
def test_job_ranks_planted_flips_on_sample(flipped_sample, mode):
    ds, flipped = flipped_sample
    res = le.get_label_errors(ds, le.LabelErrorConfig(mode=mode))
    assert str(res["mode"]) == mode
    for m in le.METHODS:
        top = np.argsort(-res[f"score_{m}"])[:40]
        # random ranking: 0.8 of the 20 expected in the top 40. 800-image folds make weak fold
        # models: with the shipped 80-epoch compact and three planted sets (rng 1-3) features-cv
        # found 16-19 (ensemble) and 8-12 (study, cleanlab), the model's own probabilities 18-20
        floor = 17 if mode == "model" else 15 if m == "ensemble" else 8
        assert len(set(top) & set(flipped)) >= floor, m
    table = le.ranking_table(ds, res)
    assert list(table.columns[:4]) == ["row", "score", "given_label", "suggested_label"]
    assert table["score"].is_monotonic_decreasing
    assert (table["given_label"] != table["suggested_label"]).all()
    assert res["outlier_score"].shape == (len(ds),)


def test_job_is_cached_and_keyed(flipped_sample, monkeypatch):
    ds, _ = flipped_sample
    cfg = le.LabelErrorConfig(mode="model")
    le.get_label_errors(ds, cfg)
    monkeypatch.setattr(le, "rank_study", lambda *a, **k: pytest.fail("recomputed a cached artifact"))
    le.get_label_errors(ds, cfg)
    assert le.label_errors_key(ds, cfg) != le.label_errors_key(ds, le.LabelErrorConfig(mode="model", knn_k=10))


def test_validation_against_ferplus_on_sample():
    ds = load_dataset()
    res = le.get_label_errors(ds, le.LabelErrorConfig(mode="model"))
    v = le.validate_rankings(ds, res, ks=(50, 100))
    base = v.loc["base rate", "P@50"]
    assert 0.2 < base < 0.6
    assert v.loc["ensemble", "P@50"] > base + 0.2  # far better than a random ranking
    found, total = le.nonfaces_in_top(ds, res, k=50)
    assert total == int(ds.ferplus.not_face.sum()) == 9
    # a random ranking puts 9 * 50 / 1000 = 0.45 of them in the top 50; this one finds 8
    assert found >= 6


def test_nonfaces_in_top_counts_planted_nonfaces():
    ds = load_dataset()
    nonfaces = np.flatnonzero(ds.ferplus.not_face)
    score = np.zeros(len(ds))
    score[nonfaces[:3]] = 2.0  # three non-faces ranked first ...
    score[np.flatnonzero(~ds.ferplus.not_face)[:5]] = 1.0  # ... then five faces
    assert le.nonfaces_in_top(ds, {"outlier_score": score}, k=3) == (3, len(nonfaces))
    assert le.nonfaces_in_top(ds, {"outlier_score": score}, k=8) == (3, len(nonfaces))
    assert le.nonfaces_in_top(ds, {"outlier_score": -score}, k=len(ds) - 8) == (len(nonfaces) - 3, len(nonfaces))


def test_cli_writes_sorted_csvs(tmp_path, capsys):
    out, outl = tmp_path / "ranking.csv", tmp_path / "outliers.csv"
    assert le.main(["--mode", "model", "--out", str(out), "--outliers-out", str(outl)]) == 0
    text = capsys.readouterr().out
    assert "mode that ran: model" in text
    r = pd.read_csv(out)
    assert list(r.columns) == ["row", "score", "given_label", "suggested_label"]
    assert r["score"].is_monotonic_decreasing and len(r) == 1000
    o = pd.read_csv(outl)
    assert list(o.columns) == ["row", "score"] and o["score"].is_monotonic_decreasing


def test_cli_missing_file_is_a_clear_error(tmp_path, capsys):
    assert le.main(["--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert "nope.csv" in err and "Traceback" not in err


@pytest.mark.slow
def test_kfold_mode_trains_fold_models(monkeypatch):
    """kfold on a 300-image subset, 2 folds x 1 epoch: runs end to end, out-of-fold probs."""
    ds = load_dataset()
    sub = ds.subset(np.arange(300))
    folds = le.fold_ids(sub.labels, folds=2, seed=0)
    p = le.cross_val_probs_kfold(sub, folds, arch="compact", epochs=1, seed=0)
    assert p.shape == (300, 7) and np.allclose(p.sum(1), 1)


# --------------------------------------------------------------------------------------------
# --pred-probs: probabilities brought in a file
# --------------------------------------------------------------------------------------------
def _agreeing_probs(ds, conf=0.88):
    """(N, 7): every image's given label at `conf`, the rest spread evenly."""
    p = np.full((len(ds), 7), (1 - conf) / 6)
    p[np.arange(len(ds)), ds.labels] = conf
    return p


@pytest.fixture(scope="module")
def planted_file(tmp_path_factory):
    """The bundled sample and a .npy agreeing with every label except one row, which points to
    another class; that row is one the shipped model itself gets right with confidence."""
    from fer_core.analysis.predictions import get_predictions
    ds = load_dataset()
    assert (ds.labels >= 0).all()
    pm = get_predictions(ds, "compact")["probs"]
    i = int(np.flatnonzero(pm[np.arange(len(ds)), ds.labels] > 0.9)[0])
    p = _agreeing_probs(ds)
    p[i] = np.roll(p[i], 1)  # the label's 0.88 moves to the next class
    assert p[i].argmax() != ds.labels[i]
    d = tmp_path_factory.mktemp("given")
    np.save(d / "planted.npy", p)
    np.save(d / "agreeing.npy", _agreeing_probs(ds))
    return ds, i, d


def test_given_probs_rank_the_planted_row_first(planted_file):
    ds, i, d = planted_file
    res = le.get_label_errors(ds, le.LabelErrorConfig(pred_probs=str(d / "planted.npy")))
    assert str(res["mode"]) == "given"
    np.testing.assert_allclose(res["pred_probs"][i], np.load(d / "planted.npy")[i], atol=1e-6)
    for m in ("study", "cleanlab", "self_confidence"):  # rank by the given probabilities alone
        assert np.argmax(res[f"score_{m}"]) == i, m
    # the ensemble still mixes in the model's own probabilities and the neighbours' labels, which
    # both back the label here: the given file moves the row from the bottom towards the top
    rank = {f: int(np.flatnonzero(np.argsort(-le.get_label_errors(
        ds, le.LabelErrorConfig(pred_probs=str(d / f)))["score_ensemble"], kind="stable") == i)[0])
        for f in ("planted.npy", "agreeing.npy")}
    assert rank["planted.npy"] < len(ds) / 2 < rank["agreeing.npy"]
    np.testing.assert_array_equal(res["model_probs"], le.get_label_errors(
        ds, le.LabelErrorConfig(mode="model"))["model_probs"])  # the model's own still from the model


def test_given_probs_key_by_content_not_path(planted_file, tmp_path, monkeypatch):
    import shutil
    ds, _, d = planted_file
    cfg = le.LabelErrorConfig(pred_probs=str(d / "planted.npy"))
    first = le.get_label_errors(ds, cfg)
    copy = tmp_path / "elsewhere" / "renamed.npy"
    copy.parent.mkdir()
    shutil.copy(d / "planted.npy", copy)
    other = le.LabelErrorConfig(pred_probs=str(copy), mode="kfold", C=5.0, folds=3)  # mode, C, folds: unused
    assert le.label_errors_key(ds, other) == le.label_errors_key(ds, cfg)
    monkeypatch.setattr(le, "read_given_probs", lambda *a: pytest.fail("recomputed a cached artifact"))
    np.testing.assert_array_equal(le.get_label_errors(ds, other)["score_ensemble"], first["score_ensemble"])
    assert le.label_errors_key(ds, le.LabelErrorConfig(pred_probs=str(d / "agreeing.npy"))) != le.label_errors_key(ds, cfg)
    assert le.label_errors_key(ds, le.LabelErrorConfig(mode="model")) != le.label_errors_key(ds, cfg)
    with pytest.raises(FileNotFoundError, match="pred_probs file not found: .*gone.npy"):
        le.label_errors_key(ds, le.LabelErrorConfig(pred_probs=str(tmp_path / "gone.npy")))


def _bad_files(ds, d):
    """(file, what the error says) for each way a --pred-probs file can be wrong."""
    p = _agreeing_probs(ds)
    out = []
    np.save(d / "short.npy", p[:-1])
    out.append(("short.npy", r"short\.npy: pred_probs must be \(N, K\) = \(1000, 7\).*shape \(999, 7\)"))
    np.save(d / "six.npy", p[:, :6] / p[:, :6].sum(1, keepdims=True))
    out.append(("six.npy", r"six\.npy: pred_probs must be \(N, K\) = \(1000, 7\).*shape \(1000, 6\)"))
    nan = p.copy()
    nan[5, 3] = np.nan
    np.save(d / "nan.npy", nan)
    out.append(("nan.npy", r"nan\.npy, row 5, field 'happy': nan is not a probability"))
    neg = p.copy()
    neg[7, 0], neg[7, 1] = -0.1, neg[7, 1] + 0.1
    np.save(d / "negative.npy", neg)
    out.append(("negative.npy", r"negative\.npy, row 7, field 'angry': -0\.1 is negative"))
    sums = p.copy()
    sums[9:] *= 1.2
    np.save(d / "sums.npy", sums)
    out.append(("sums.npy", r"sums\.npy, row 9: rows do not sum to 1: normalise them \(this row sums to 1\.2.*991 bad rows"))
    (d / "text.npy").write_text("0.1,0.9\n0.5,0.5\n")
    out.append(("text.npy", r"text\.npy: not a NumPy \.npy file"))
    np.save(d / "words.npy", np.array([["a"] * 7] * 1000))
    out.append(("words.npy", r"words\.npy: pred_probs must be a float array.*<U1"))
    return out


def test_bad_given_files_give_a_clear_error_through_the_command(tmp_path, capsys):
    import re
    ds = load_dataset()
    for name, msg in _bad_files(ds, tmp_path):
        assert le.main(["--pred-probs", str(tmp_path / name), "--out", str(tmp_path / "r.csv")]) == 2, name
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert re.search(msg, err), (name, err)
    assert not (tmp_path / "r.csv").exists()


def test_cli_ranks_with_a_given_csv(planted_file, tmp_path, capsys):
    """A CSV with a 'row' column and class-name columns in another order, rows shuffled."""
    ds, i, d = planted_file
    p = np.load(d / "planted.npy")
    order = np.random.default_rng(0).permutation(len(ds))
    names = list(le.FER2013_EMOTIONS)[::-1]
    df = pd.DataFrame(p[order][:, ::-1], columns=names)
    df.insert(0, "row", ds.row[order])
    df.to_csv(tmp_path / "probs.csv", index=False)
    out = tmp_path / "ranking.csv"
    assert le.main(["--pred-probs", str(tmp_path / "probs.csv"), "--method", "study", "--out", str(out)]) == 0
    assert "mode that ran: given" in capsys.readouterr().out
    assert pd.read_csv(out)["row"].iloc[0] == ds.row[i]

def test_the_command_prints_n_a_with_its_reason_not_nan(capsys):
    """Issue 17: `python -m fer_core.label_errors` printed "P@2000 NaN" on the 1,000-image sample."""
    assert le.main([]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "nan" not in out
    assert "P@2000 n/a: fewer than 2,000 rows" in out
    table = out.split("precision@k")[1]
    assert "ensemble" in table and " n/a" in table.splitlines()[2]  # the ensemble row's P@2000 cell
