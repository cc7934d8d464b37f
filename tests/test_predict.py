"""python -m fer_core.predict: JSON per file, per-file errors, exit codes."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fer_core.pipeline import predict
from fer_core.models.checkpoint import shipped_checkpoints
from fer_core.constants import FER2013_EMOTIONS
from fer_core.data.dataset import load_dataset
from fer_core.analysis.faces import demo_photo
from fer_testutils import photo_zoo

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    ds = load_dataset()
    rgb, boxes, _ = demo_photo(ds.images, ds.labels, n=2, seed=1)
    folder = tmp_path_factory.mktemp("zoo")
    readable = {}
    for name, (data, ok) in photo_zoo(rgb).items():
        (folder / name).write_bytes(data)
        readable[name] = ok
    (folder / "face48.png").write_bytes(__import__("fer_testutils").image_bytes(ds.images[0], "PNG"))
    readable["face48.png"] = True
    return folder, readable


def run_json(capsys, args):
    rc = predict.main(args + ["--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_json_over_the_zoo(zoo, capsys):
    folder, readable = zoo
    files = sorted(str(p) for p in folder.iterdir())
    rc, out = run_json(capsys, files)
    assert rc == 0
    assert [r["file"] for r in out] == files  # one entry per file, in order
    for r in out:
        name = Path(r["file"]).name
        if not readable[name]:
            assert set(r) == {"file", "error"} and r["error"], name
            continue
        assert "error" not in r, (name, r.get("error"))
        for face in r["faces"]:
            x, y, w, h = face["box"]
            assert w > 0 and h > 0 and 0 <= x and x + w <= r["width"] and 0 <= y and y + h <= r["height"]
            assert list(face["probs"]) == list(FER2013_EMOTIONS)
            assert abs(sum(face["probs"].values()) - 1) < 1e-4
            assert face["label"] == max(face["probs"], key=face["probs"].get)
    found = {Path(r["file"]).name: len(r["faces"]) for r in out if "faces" in r}
    assert found["photo.png"] == 2 and found["photo.jpg"] == 2
    errors = {Path(r["file"]).name: r["error"] for r in out if "error" in r}
    assert "empty" in errors["empty.jpg"] and "not an image" in errors["notes.png"]
    assert "too large" in errors["bomb.png"] and "truncated" in errors["truncated.jpg"]


def test_no_detect_whole_image(zoo, capsys):
    folder, _ = zoo
    rc, out = run_json(capsys, [str(folder / "face48.png"), "--no-detect"])
    assert rc == 0 and len(out[0]["faces"]) == 1 and out[0]["faces"][0]["box"] == [0, 0, 48, 48]


def test_exit_code_nonzero_only_when_nothing_processed(zoo, capsys):
    folder, _ = zoo
    rc, out = run_json(capsys, [str(folder / "empty.jpg"), str(folder / "nope.jpg")])
    assert rc == 1 and all("error" in r for r in out)
    rc, _ = run_json(capsys, [str(folder / "empty.jpg"), str(folder / "photo.png")])
    assert rc == 0
    assert predict.main([str(folder / "photo.png"), "--model", "no-such-model"]) == 2
    assert "no shipped checkpoint named" in capsys.readouterr().err


def test_text_output(zoo, capsys):
    folder, _ = zoo
    assert predict.main([str(folder / "photo.png"), str(folder / "notes.png")]) == 0
    out, err = capsys.readouterr()
    assert "2 faces" in out and "face 1 at [" in out and "notes.png: error: not an image" in out
    assert "1 of 2 file(s) could not be processed" in err


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "fer_core.predict", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "--no-detect" in r.stdout and "--json" in r.stdout
