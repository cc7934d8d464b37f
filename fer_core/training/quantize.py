"""Convert a checkpoint's weights to int8 (or back to float16), then score both files.

    python -m fer_core.quantize compact compact-int8.pt
    python -m fer_core.quantize runs/resnet18.pt resnet18-int8.pt --data fer2013.csv.gz --split PrivateTest

SRC is a shipped checkpoint name or a .pt path; DST the file to write. int8 stores every conv
and linear weight as int8 with one float32 scale per output channel (max|w| / 127), everything
else in float16: about half the size of the float16 file. :func:`fer_core.models.checkpoint.
load_checkpoint` reads either format, so a converted file is used like any other checkpoint.

After writing, both files are scored on --split of --data (default: the bundled sample) with flip
TTA, as ``python -m fer_core.evaluate --tta`` scores them, and the accuracies, their difference,
the share of images on which the two predict the same class and the file sizes are printed.

The converter is :mod:`fer_core.models.quantize`; this command lives here, above it, because it
scores the files with :mod:`fer_core.training.evaluate`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from fer_core.models.checkpoint import (
    WEIGHT_FORMATS,
    load_checkpoint,
    resolve_checkpoint,
)
from fer_core.models.quantize import convert
from fer_core.training.evaluate import compute_metrics, split_labels

SPLITS = ("Training", "PublicTest", "PrivateTest")


def compare(src: str | Path, dst: str | Path, dataset, *, split: str = "PrivateTest", tta: bool = True) -> dict:
    """Score two checkpoints of the same label set on the labeled images of one split.

    Args:
        src, dst: shipped names or checkpoint paths (the source and the converted file).
        dataset: a :class:`fer_core.data.dataset.Dataset`.
        split: 'PrivateTest', 'PublicTest' or 'Training'.
        tta: average each image's prediction with its mirror's.

    Returns:
        {split, n, tta, source: {path, weights_format, bytes, accuracy, macro_f1, model_hash},
        converted: {the same}, accuracy_difference (converted - source, in accuracy units),
        agreement (share of the images on which both predict the same class, 0..1), size_ratio
        (converted bytes / source bytes)}.
    """
    from fer_core.models.inference import predict_probs

    out: dict = {"split": split, "tta": tta}
    preds = []
    for role, name in (("source", src), ("converted", dst)):
        path = resolve_checkpoint(name)
        model, info = load_checkpoint(path)
        idx, labels = split_labels(dataset, info["label_set"], split)
        if not len(idx):
            raise ValueError(f"no row of split {split!r} has a label in {info['label_set']!r}")
        probs = predict_probs(model, dataset.images[idx], tta=tta)
        m = compute_metrics(labels, probs, class_names=model.classes)
        out[role] = {"path": str(path), "weights_format": info["weights_format"], "bytes": path.stat().st_size,
                     "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "model_hash": info["model_hash"]}
        out["n"] = m["n"]
        preds.append(probs.argmax(1))
    out["accuracy_difference"] = out["converted"]["accuracy"] - out["source"]["accuracy"]
    out["agreement"] = float((preds[0] == preds[1]).mean())
    out["size_ratio"] = out["converted"]["bytes"] / out["source"]["bytes"]
    return out


def _report(r: dict) -> str:
    s, c = r["source"], r["converted"]
    return (f"wrote {c['path']}: {c['weights_format']} weights, {c['bytes'] / 1024:.0f} KB "
            f"(source {s['weights_format']}: {s['bytes'] / 1024:.0f} KB; {r['size_ratio']:.2f}x)\n"
            f"{r['split']} accuracy{' with flip TTA' if r['tta'] else ''} (n={r['n']}): "
            f"source {s['accuracy']:.4f}, converted {c['accuracy']:.4f}, "
            f"difference {100 * r['accuracy_difference']:+.2f} points; "
            f"the two predict the same class on {100 * r['agreement']:.1f}% of the images")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    from fer_core import cli

    p = cli.command_parser("quantize", __doc__, data=True, ferplus=True, json=True, raw_description=True)
    p.add_argument("src", metavar="SRC", help="checkpoint to convert: shipped name (compact) or .pt path")
    p.add_argument("dst", metavar="DST", help="converted checkpoint to write (.pt)")
    p.add_argument("--weights", default="int8", choices=WEIGHT_FORMATS,
                   help="weight format of DST: int8 (per-output-channel) or fp16")
    p.add_argument("--split", default="PrivateTest", choices=SPLITS, help="split both files are scored on")
    a = p.parse_args(argv)
    return cli.run(lambda: _quantize(a), as_json=a.json)


def _quantize(a) -> int:
    from fer_core.data.dataset import load_dataset

    ds = load_dataset(a.data or None, a.ferplus or None)  # bad data fails before anything is written
    convert(a.src, a.dst, weights=a.weights)
    r = compare(a.src, a.dst, ds, split=a.split, tta=True)
    r["data"] = a.data or "bundled sample"
    print(json.dumps(r) if a.json else _report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
