"""fer_core.models.aligner: the shipped alignment checker separates faces from misaligned copies;
training runs end to end and learns; clear errors."""
import numpy as np
import pytest

from fer_core.models import aligner
from fer_core.data.dataset import load_dataset


@pytest.fixture(scope="module")
def sample_images():
    return load_dataset(use_cache=False).images


def _auc(neg_scores, pos_scores):
    from sklearn.metrics import roc_auc_score
    return roc_auc_score(np.r_[np.zeros(len(pos_scores)), np.ones(len(neg_scores))], np.r_[pos_scores, neg_scores])


@pytest.mark.skipif(not aligner.SHIPPED.is_file(), reason="no shipped alignment checker")
def test_shipped_checker_separates_misaligned_copies(sample_images):
    rng = np.random.default_rng(5)
    faces = aligner.misalignment_scores(sample_images)
    copies = aligner.misalignment_scores(aligner.misaligned_copies(sample_images, rng))
    assert faces.shape == (len(sample_images),) and ((faces >= 0) & (faces <= 1)).all()
    assert _auc(copies, faces) > 0.9
    # each kind of copy on its own: sideways and upside-down faces score above the originals
    for rot in (np.rot90(sample_images, 1, axes=(1, 2)), sample_images[:, ::-1]):
        assert np.median(aligner.misalignment_scores(np.ascontiguousarray(rot))) > np.median(faces) + 0.3


def test_copies_keep_shape_and_dtype(sample_images):
    out = aligner.misaligned_copies(sample_images[:50], np.random.default_rng(0))
    assert out.shape == (50, 48, 48) and out.dtype == np.uint8
    assert not (out == sample_images[:50]).all(axis=(1, 2)).any()


def test_training_learns_and_round_trips(sample_images, tmp_path):
    cfg = aligner.AlignerConfig(epochs=3, per_epoch=600, width=8, seed=0, out=str(tmp_path / "a.pt"))
    model, losses = aligner.train_aligner(sample_images, cfg, progress=False)
    assert len(losses) == 3 and losses[-1] < losses[0] < 0.75
    aligner.save_aligner(model, cfg.out, config=cfg, data_hash="x", losses=losses)
    again = aligner.load_aligner(cfg.out)
    a = aligner.misalignment_scores(sample_images[:64], model)
    b = aligner.misalignment_scores(sample_images[:64], again)
    assert np.abs(a - b).max() < 2e-2  # fp16 weights


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\(N, 48, 48\) uint8"):
        aligner.train_aligner(np.zeros((4, 32, 32), np.uint8))
    with pytest.raises(FileNotFoundError, match="python -m fer_core.aligner"):
        aligner.load_aligner(tmp_path / "missing.pt")


def test_cli_on_sample(tmp_path, capsys):
    out = tmp_path / "al.pt"
    assert aligner.main(["--epochs", "1", "--per-epoch", "200", "--width", "4", "--out", str(out)]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    assert aligner.main(["--data", str(tmp_path / "nope.csv"), "--out", str(out)]) == 2
