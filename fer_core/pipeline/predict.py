"""Predict the expression of every face in image files.

    python -m fer_core.predict FILES... [--model NAME] [--no-detect] [--json] [--runtime onnx]

For each file: the faces found (OpenCV Haar cascade), each with its box [x, y, w, h] in the
photo's pixels (EXIF orientation applied), the probability of every emotion and the label.
``--no-detect`` treats each whole image as one face crop (for images that are already face
crops, like FER2013's). A file that cannot be read yields an entry with an ``error`` and the
others are still processed; the exit code is 1 only when no file could be processed (2 for a
usage error or a model that cannot be loaded). ``--runtime onnx`` runs the model with ONNX
Runtime instead of PyTorch (see :mod:`fer_core.models.export`).

Example (``--json``)::

    [{"file": "group.jpg", "width": 640, "height": 480, "faces": [
        {"box": [112, 80, 150, 150], "label": "happy", "probs": {"angry": 0.01, ...}}]},
     {"file": "notes.txt", "error": "not an image ..."}]
"""
from __future__ import annotations

import json
import sys

from fer_core import cli
from fer_core.analysis.faces import DEFAULT_DETECTOR, DETECTORS, ImageError, analyze_photo, load_photo


def predict_files(files: list[str], model, *, detect: bool = True, detector: str = DEFAULT_DETECTOR,
                  tta: bool = False) -> list[dict]:
    """One result dict per file (see the module docstring); never raises for a bad file."""
    classes = list(model.classes)
    out = []
    for f in files:
        entry: dict = {"file": str(f)}
        try:
            photo = load_photo(f)
            faces = analyze_photo(photo.rgb, model, detect=detect, detector=detector, tta=tta)
        except ImageError as e:
            entry["error"] = e.problem  # "file" names the file
            out.append(entry)
            continue
        w, h = photo.size
        entry.update(width=w, height=h, faces=[
            {"box": face["box"], "label": classes[face["label"]],
             "probs": {c: round(float(p), 6) for c, p in zip(classes, face["probs"])}} for face in faces])
        if photo.notes:
            entry["notes"] = photo.notes
        out.append(entry)
    return out


def format_text(results: list[dict]) -> str:
    """Human-readable lines: one per file, one per face with its top-3."""
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"{r['file']}: error: {r['error']}")
            continue
        faces = r["faces"]
        lines.append(f"{r['file']}: {r['width']}x{r['height']}, {len(faces)} face{'s' if len(faces) != 1 else ''}")
        for i, face in enumerate(faces, 1):
            top = sorted(face["probs"].items(), key=lambda kv: -kv[1])[:3]
            lines.append(f"  face {i} at {face['box']}: {face['label']}  ("
                         + ", ".join(f"{c} {p:.0%}" for c, p in top) + ")")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = cli.command_parser("predict", __doc__, model=True, raw_description=True)
    p.add_argument("files", nargs="+", metavar="FILE", help="image files (JPEG, PNG, WebP, BMP, GIF, TIFF...)")
    p.add_argument("--no-detect", action="store_true", help="treat each whole image as one face crop")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTORS,
                   help="face detector ('mtcnn' needs facenet-pytorch)")
    p.add_argument("--tta", action="store_true", help="average each face's prediction with its mirror's")
    p.add_argument("--json", action="store_true", help="print a JSON list, one entry per file")
    p.add_argument("--runtime", default="torch", choices=("torch", "onnx"),
                   help="onnx: run the model with ONNX Runtime (a .onnx --model file, or the checkpoint "
                        "exported once and cached); a .onnx --model implies it")
    a = p.parse_args(argv)
    return cli.run(lambda: _predict_and_print(a), errors=(ImportError,))  # ImportError: mtcnn not installed


def _predict_and_print(a) -> int:
    from fer_core.models.checkpoint import default_model, load_checkpoint

    name = a.model or default_model()
    if not name:
        raise FileNotFoundError("no shipped model in fer_core/models/weights/ and no --model given")
    if a.runtime == "onnx" or str(name).endswith(".onnx"):
        from fer_core.models.export import ExportError, OnnxModel, get_onnx
        try:
            model = OnnxModel(name if str(name).endswith(".onnx") else get_onnx(name))
        except (ImportError, ExportError) as e:
            raise ValueError(f"--runtime onnx: {e}") from None
    else:
        model, _ = load_checkpoint(name)
    results = predict_files(a.files, model, detect=not a.no_detect, detector=a.detector, tta=a.tta)
    print(json.dumps(results, indent=2) if a.json else format_text(results))
    n_bad = sum("error" in r for r in results)
    if n_bad:
        print(f"{n_bad} of {len(results)} file(s) could not be processed", file=sys.stderr)
    return 1 if n_bad == len(results) else 0


if __name__ == "__main__":
    sys.exit(main())
