"""ONNX export: round trip against PyTorch, metadata, predict --runtime onnx, clear errors, README snippet."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from fer_core.models import export
from fer_core.models import registry as models
from fer_core.pipeline import predict  # noqa: E402
from fer_core.models.checkpoint import load_checkpoint, save_checkpoint, shipped_checkpoints  # noqa: E402
from fer_core.constants import FER2013_EMOTIONS  # noqa: E402
from fer_core.data.dataset import load_dataset  # noqa: E402
from fer_core.models.export import ExportError, OnnxModel, export_onnx, export_onnx_bytes  # noqa: E402
from fer_core.models.inference import predict_logits, predict_probs  # noqa: E402
from fer_testutils import image_bytes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif("compact" not in shipped_checkpoints(), reason="no shipped compact checkpoint")


@pytest.fixture(scope="module")
def sample():
    return load_dataset(use_cache=False)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """compact exported once (with the built-in 100-image check) for the whole module."""
    out = tmp_path_factory.mktemp("onnx") / "compact.onnx"
    result = export_onnx("compact", out)
    return out, result


def test_round_trip_matches_pytorch_on_100_real_images(exported, sample):
    path, result = exported
    assert result["n_checked"] == 100 and result["max_abs_diff"] <= 1e-4
    model, _ = load_checkpoint("compact")
    images = sample.images[:100]
    onnx_model = OnnxModel(path)
    np.testing.assert_allclose(onnx_model.predict_logits(images), predict_logits(model, images), atol=1e-4, rtol=0)
    # any batch size: the batch axis is dynamic
    np.testing.assert_allclose(onnx_model.predict_logits(images[:1]), predict_logits(model, images[:1]), atol=1e-4,
                               rtol=0)
    np.testing.assert_allclose(onnx_model.predict_probs(images, tta=True, batch_size=33),
                               predict_probs(model, images, tta=True), atol=1e-5, rtol=0)


def test_metadata_holds_labels_and_preprocessing(exported):
    path, result = exported
    import onnxruntime as ort
    _, info = load_checkpoint("compact")
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == list(FER2013_EMOTIONS)
    norm = json.loads(meta["normalization"])
    assert norm == pytest.approx(info["normalization"])
    assert "/ 255" in meta["preprocessing"] and meta["model_name"] == "compact"
    assert meta["source_model_hash"] == info["model_hash"]
    assert json.loads(meta["metrics"])["PrivateTest_accuracy"] == pytest.approx(
        info["metrics"]["PrivateTest"]["accuracy"])
    assert result["metadata"]["classes"] == list(FER2013_EMOTIONS)


def test_predict_runtime_onnx_gives_the_same_labels_as_pytorch(exported, sample, tmp_path, capsys):
    path, _ = exported
    files = []
    for i in range(40):
        f = tmp_path / f"face{i:02d}.png"
        f.write_bytes(image_bytes(sample.images[i], "PNG"))
        files.append(str(f))

    def labels(*extra):
        assert predict.main(files + ["--no-detect", "--json", *extra]) == 0
        return [r["faces"][0]["label"] for r in json.loads(capsys.readouterr().out)]

    ref = labels()
    assert labels("--runtime", "onnx", "--model", str(path)) == ref
    assert labels("--runtime", "onnx") == ref  # the shipped checkpoint, exported once into the cache
    assert labels("--model", str(path)) == ref  # a .onnx model implies --runtime onnx
    # and on the whole 1,000-image sample
    model, _ = load_checkpoint("compact")
    np.testing.assert_array_equal(OnnxModel(path).predict_probs(sample.images).argmax(1),
                                  predict_probs(model, sample.images).argmax(1))


def test_cached_export_is_reused(monkeypatch):
    from fer_core.store import Store
    first = export.get_onnx("compact")
    monkeypatch.setattr(export, "export_onnx_bytes", lambda *a, **k: pytest.fail("exported again"))
    assert export.get_onnx("compact") == first
    assert len(Store().list("onnx")) == 1


def test_cli(tmp_path, capsys):
    out = tmp_path / "sub" / "m.onnx"
    assert export.main(["--model", "compact", "--format", "onnx", "--out", str(out), "--check-images", "20"]) == 0
    text = capsys.readouterr().out
    assert out.is_file() and "checked on 20 bundled-sample faces" in text
    assert export.main(["--model", "no-such-model", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "no shipped checkpoint named 'no-such-model'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export.main(["--model", "compact", "--format", "tflite"])
    r = subprocess.run([sys.executable, "-m", "fer_core.export", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "--format" in r.stdout


# ---- models that cannot be exported ----------------------------------------------------------
class DataDependent(nn.Module):
    """Python control flow on a tensor value: torch.export cannot capture it."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(48 * 48, 7)
        self.classes, self.normalization, self.num_classes = FER2013_EMOTIONS, {"mean": 0.5, "std": 0.25}, 7

    def forward(self, x):
        y = self.head(x.flatten(1))
        return y if y.sum() > 0 else -y


class DivergesWhenExported(DataDependent):
    """Exports, but the captured graph is not what eager PyTorch runs (as with Python-side state)."""

    def forward(self, x):
        y = self.head(x.flatten(1))
        return y * 0.5 if torch.compiler.is_exporting() else y


def test_unexportable_model_gives_a_clear_error():
    with pytest.raises(ExportError, match=r"cannot be exported to ONNX: .*export") as e:
        export_onnx_bytes(DataDependent().eval())
    assert "DataDependent" in str(e.value) and "\x1b[" not in str(e.value) and len(str(e.value)) < 2000


def test_export_that_does_not_reproduce_pytorch_is_refused(tmp_path):
    out = tmp_path / "diverges.onnx"
    with pytest.raises(ExportError, match="does not reproduce PyTorch"):
        export_onnx(DivergesWhenExported().eval(), out, check_images=20)
    assert not out.exists()


@pytest.fixture
def planted_registered_model():
    """A registered model that cannot be exported (removed from the registry afterwards)."""
    models.register_model("_unexportable")(lambda num_classes=7, width=1.0, dropout=0.0: DataDependent())
    try:
        yield "_unexportable"
    finally:
        models._REGISTRY.pop("_unexportable", None)


def test_cli_error_for_a_checkpoint_that_cannot_be_exported(planted_registered_model, tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "bad.pt", DataDependent(), model_name=planted_registered_model,
                           model_kwargs={}, label_set="fer2013", normalization={"mean": 0.5, "std": 0.25})
    assert export.main(["--model", str(ckpt), "--out", str(tmp_path / "bad.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model '_unexportable' cannot be exported to ONNX")
    assert "Traceback" not in err and len(err) < 2000
    assert not (tmp_path / "bad.onnx").exists()


def test_not_a_fer_onnx_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        OnnxModel(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        OnnxModel(tmp_path / "junk.onnx")
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 18)]),
              tmp_path / "plain.onnx")
    with pytest.raises(ValueError, match="not a FER Explorer ONNX file"):
        OnnxModel(tmp_path / "plain.onnx")


def test_readme_snippet_runs_without_fer_core(exported, sample, tmp_path):
    """The README's ONNX Runtime snippet, run as written in a folder with compact.onnx and face.png."""
    path, _ = exported
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"```python\n(# needs only onnxruntime.*?)```", readme, re.S)
    assert m, "README has no onnxruntime snippet"
    code = m.group(1)
    assert "fer_core" not in code
    (tmp_path / "compact.onnx").write_bytes(path.read_bytes())
    (tmp_path / "face.png").write_bytes(image_bytes(sample.images[2], "PNG"))
    (tmp_path / "snippet.py").write_text(code)
    r = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    model, _ = load_checkpoint("compact")
    want = FER2013_EMOTIONS[int(predict_probs(model, sample.images[2:3]).argmax())]
    assert r.stdout.split()[0] == want
