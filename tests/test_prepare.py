"""fer_core.pipeline.prepare: builds missing stages, skips finished ones, resumes."""
from fer_core.pipeline import prepare
from fer_core.data.dataset import load_dataset


def test_run_then_resume(capsys):
    ds = load_dataset()
    only = ["eigenfaces", "predictions"]  # the other stages are exercised by their own modules' tests
    first = prepare.run(ds, only=only)
    assert first["eigenfaces"] > 0 and first["predictions"] > 0
    again = prepare.run(ds, only=only)
    assert again == {"eigenfaces": 0.0, "predictions": 0.0}
    status = prepare.stage_status(ds)
    assert status["eigenfaces"] and status["predictions"]


def test_cli(capsys):
    assert prepare.main(["--only", "eigenfaces"]) == 0
    assert "eigenfaces" in capsys.readouterr().out
    assert prepare.main(["--data", "/nonexistent/fer2013.csv"]) == 2
    assert "fer2013.csv" in capsys.readouterr().err


def test_prepare_command():
    assert prepare.prepare_command("a.csv", "b.csv") == "python -m fer_core.prepare --data a.csv --ferplus b.csv"


def test_prepare_command_quotes_paths():
    assert prepare.prepare_command("/my data/f.csv") == "python -m fer_core.prepare --data '/my data/f.csv'"


def test_model_option_builds_that_models_artifacts(tmp_path, capsys):
    """--model: the model stages are keyed by (and built with) the given checkpoint; the default
    model's artifacts stay missing; a missing checkpoint is a clear error."""
    import torch

    from fer_core.models.checkpoint import save_checkpoint
    from fer_core.models.registry import create_model
    from fer_core.analysis.predictions import get_predictions

    torch.manual_seed(0)
    net = create_model("compact", width=0.25, blocks=(1, 1, 1)).eval()
    ckpt = str(save_checkpoint(tmp_path / "other.pt", net, model_name="compact",
                               model_kwargs={"width": 0.25, "blocks": [1, 1, 1]}, label_set="fer2013",
                               normalization={"mean": 0.5, "std": 0.25}))
    ds = load_dataset()
    only = ["predictions", "robustness"]
    assert prepare.main(["--only", *only, "--model", ckpt]) == 0
    assert f"[model] {ckpt}" in capsys.readouterr().out
    mine, default = prepare.stage_status(ds, model=ckpt), prepare.stage_status(ds)
    assert mine["predictions"] and mine["robustness"]
    assert not default["predictions"] and not default["robustness"]
    # what was cached is the given model's output, not the default model's
    probs = get_predictions(ds, ckpt)["probs"]
    assert probs.shape == (len(ds), 7)
    assert not prepare.run(ds, only=only, model=ckpt, log=lambda *_: None)["predictions"]  # cached: 0 s
    assert prepare.main(["--only", "predictions", "--model", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err
    assert prepare.prepare_command("a.csv", None, "resnet18") == "python -m fer_core.prepare --data a.csv --model resnet18"
