"""The shared command layer: common arguments, one error path, the shell line of a command."""
import json

import pytest

from fer_core import cli
from fer_core.config import EvalConfig, PCAConfig


def test_parser_adds_common_arguments_once():
    p = cli.command_parser("embed", "x", config=PCAConfig, data=True, ferplus=True, model=True, json=True)
    a = p.parse_args(["--data", "d.csv", "--model", "compact", "--json", "--n-components", "5"])
    assert (a.data, a.ferplus, a.model, a.json, a.n_components) == ("d.csv", "", "compact", True, 5)
    assert p.prog == "python -m fer_core.embed"
    # EvalConfig declares data/ferplus/model itself: no second --data (argparse would raise)
    a = cli.command_parser("evaluate", "x", config=EvalConfig, data=True, model=True).parse_args(["--data", "f"])
    assert a.data == "f" and a.model == EvalConfig().model


def test_run_turns_bad_input_into_exit_2_and_a_message(capsys):
    def bad():
        raise ValueError("fer2013.csv, row 3 (line 5), field 'pixels': expected 2304 pixel values")
    assert cli.run(bad) == 2
    err = capsys.readouterr().err
    assert err == "error: fer2013.csv, row 3 (line 5), field 'pixels': expected 2304 pixel values\n"
    assert cli.run(bad, as_json=True) == 2
    assert json.loads(capsys.readouterr().out)["error"].startswith("fer2013.csv, row 3")
    assert cli.run(lambda: None) == 0 and cli.run(lambda: 1) == 1

    class Custom(Exception):
        pass

    def custom():
        raise Custom("no onnxruntime")
    assert cli.run(custom, errors=(Custom,)) == 2
    with pytest.raises(Custom):  # not named: a bug, not bad input, so it is not swallowed
        cli.run(custom)


def test_command_line_quotes_and_skips_empty_options():
    assert cli.command_line("prepare", data="/d/fer 2013.csv", ferplus=None, model="compact") == \
        "python -m fer_core.prepare --data '/d/fer 2013.csv' --model compact"
    assert cli.command_line("label_errors", out="r.csv", no_cache=True, only="") == \
        "python -m fer_core.label_errors --out r.csv --no-cache"
    assert cli.command_line("robustness", corruption=["jpeg", "fgsm"], repeats=2, only=[]) == \
        "python -m fer_core.robustness --corruption jpeg fgsm --repeats 2"


def test_export_and_aligner_fail_cleanly_on_bad_input(tmp_path, capsys):
    from fer_core.models import aligner, export
    assert export.main(["--model", str(tmp_path / "missing.pt"), "--json"]) == 2
    assert "error" in json.loads(capsys.readouterr().out)
    assert aligner.main(["--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "a.pt")]) == 2
    assert "missing.csv" in capsys.readouterr().err


def test_commands_shown_by_the_pages():
    from fer_core.analysis import embed, label_errors, robustness
    from fer_core.config import ProjectionConfig, RobustnessConfig
    from fer_core.pipeline.prepare import prepare_command
    assert embed.command(ProjectionConfig(method="tsne", perplexity=50.0), model="compact", data="/d/f.csv") == \
        "python -m fer_core.embed --data /d/f.csv --model compact --method tsne --perplexity 50.0 --tsne-impl opentsne"
    assert label_errors.command("bundled sample", "compact") == \
        "python -m fer_core.label_errors --model compact --out ranking.csv --outliers-out outliers.csv"
    assert robustness.command(["jpeg", "fgsm"], data="/d/x y.csv", config=RobustnessConfig(repeats=1)) == \
        "python -m fer_core.robustness --data '/d/x y.csv' --corruption jpeg fgsm --repeats 1"
    assert prepare_command("/d/f.csv", None, "m.pt") == "python -m fer_core.prepare --data /d/f.csv --model m.pt"
