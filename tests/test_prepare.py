"""fer_core.prepare: builds missing stages, skips finished ones, resumes."""
from fer_core import prepare
from fer_core.data import load_dataset


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
