"""Reviewed label corrections: apply them to labels, and compare a model before/after retraining.

A corrections file is a flags CSV exported from the label-errors page
(:meth:`fer_core.data.flags.FlagStore.export_csv`; columns row, corrected_label, decision, ...),
read with :func:`fer_core.data.flags.read_corrections`. Rows are ``Dataset.row`` values.

* Training uses it through ``python -m fer_core.train --label-corrections flags.csv
  [--exclude-flagged]``: corrected labels replace the Training labels; with
  ``--exclude-flagged`` the images flagged not_face or duplicate, and those flagged mislabeled
  without a corrected label, are left out of training.
* The report scores two checkpoints (before and after) on the test splits against the original
  labels, against the corrected labels (with the same images left out), and against the FER+
  majority when loaded::

      python -m fer_core.corrections report --data fer2013.csv.gz --ferplus fer2013new.csv \
          --before runs/base.pt --after runs/fixed.pt --label-corrections flags.csv
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fer_core.config import JobConfig, opt
from fer_core.constants import FER2013_TO_FER6
from fer_core.data.flags import FlagError, read_corrections

#: Decisions whose images `exclude_flagged` leaves out (and 'mislabeled' without a corrected label).
EXCLUDED_DECISIONS = ("not_face", "duplicate")


def excluded_mask(corrections: pd.DataFrame) -> np.ndarray:
    """(M,) bool over the rows of a read_corrections frame: the images to leave out."""
    d = corrections["decision"].to_numpy().astype(str)
    return np.isin(d, EXCLUDED_DECISIONS) | ((d == "mislabeled") & (corrections["corrected_label"].to_numpy() < 0))


def apply_corrections(rows: np.ndarray, labels: np.ndarray, corrections: pd.DataFrame, *,
                      exclude_flagged: bool = False, known_rows: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Apply reviewed corrections to the images `rows`.

    Args:
        rows: (N,) int ``Dataset.row`` of the images (e.g. the Training ones).
        labels: (N,) int FER2013 labels 0..6 (-1 = unlabeled).
        corrections: :func:`fer_core.data.flags.read_corrections` frame (row, corrected_label, decision).
        exclude_flagged: keep=False for images flagged not_face / duplicate, or mislabeled
            without a corrected label.
        known_rows: every row of the dataset (default: `rows`). A listed row outside `rows` but
            in `known_rows` (a test image when `rows` are the Training ones) is skipped; one in
            neither is an error.

    Returns:
        (labels (N,) int64 with the corrected labels, keep (N,) bool, counts): counts has listed
        (rows in the file), applied (of them among `rows`), corrected (labels that changed),
        excluded (images with keep=False) and outside (listed rows not among `rows`).

    Raises:
        FlagError: listed rows that are not in the dataset (the file belongs to another one?).
    """
    rows = np.asarray(rows, np.int64)
    labels = np.asarray(labels).astype(np.int64)
    if rows.shape != labels.shape or rows.ndim != 1:
        raise ValueError(f"rows and labels must be (N,) of one length, got {rows.shape} and {labels.shape}")
    listed = corrections["row"].to_numpy(np.int64)
    known = rows if known_rows is None else np.asarray(known_rows, np.int64)
    unknown = listed[~np.isin(listed, known)]
    if len(unknown):
        shown = ", ".join(map(str, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
        raise FlagError(f"{len(unknown)} listed row(s) are not in the data ({shown}; the data has "
                        f"{len(known)} images, rows {known.min() if len(known) else '-'}.."
                        f"{known.max() if len(known) else '-'}): are the corrections for another dataset?")
    at = pd.Index(rows).get_indexer(listed)  # position of each listed row among `rows`, -1 if absent
    found = at >= 0
    pos = at[found]
    new = labels.copy()
    fix = corrections["corrected_label"].to_numpy(np.int64)[found]
    has_fix = fix >= 0
    new[pos[has_fix]] = fix[has_fix]
    keep = np.ones(len(rows), bool)
    if exclude_flagged:
        keep[pos[excluded_mask(corrections)[found]]] = False
    counts = {"listed": int(len(listed)), "applied": int(found.sum()), "corrected": int((new != labels).sum()),
              "excluded": int((~keep).sum()), "outside": int((~found).sum())}
    return new, keep, counts


# --------------------------------------------------------------------------------------------
# before / after report
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorrectionsReportConfig(JobConfig):
    """Compare two checkpoints on the test splits (python -m fer_core.corrections report)."""

    data: str = opt("", "fer2013.csv[.gz] (empty: the bundled sample)")
    ferplus: str = opt("", "fer2013new.csv, row-aligned with --data (adds the FER+ majority as a target)")
    before: str = opt("compact", "checkpoint path or shipped name: the model trained on the original labels")
    after: str = opt("", "checkpoint path: the model trained with the corrections")
    label_corrections: str = opt("", "flags CSV (label-errors page export): adds the corrected-labels target")
    splits: tuple[str, ...] = opt(("PublicTest", "PrivateTest"), "splits to score")
    tta: bool = opt(False, "average each image's prediction with its mirror's")
    batch_size: int = opt(512, "images per forward pass")


def _targets(dataset, idx: np.ndarray, corrections: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """{target name: (len(idx),) FER2013 labels, -1 = leave the image out}."""
    out = {"original": dataset.labels[idx]}
    if corrections is not None:
        new, keep, _ = apply_corrections(dataset.row[idx], dataset.labels[idx], corrections, exclude_flagged=True,
                                         known_rows=dataset.row)
        out["corrected"] = np.where(keep, new, -1)
    if dataset.ferplus is not None:
        out["FER+ majority"] = dataset.ferplus.majority_fer2013[idx]
    return out


def compare_checkpoints(dataset, before, after, *, corrections: pd.DataFrame | None = None,
                        splits: tuple[str, ...] = ("PublicTest", "PrivateTest"), tta: bool = False,
                        batch_size: int = 512) -> pd.DataFrame:
    """Accuracy of two checkpoints per split and target labels.

    Args:
        dataset: a :class:`fer_core.data.dataset.Dataset`.
        before, after: checkpoint paths or shipped names (or loaded models), trained on the same
            label set, 'fer2013' or 'fer6'.
        corrections: a :func:`fer_core.data.flags.read_corrections` frame; adds the target
            'corrected': the corrected labels, without the images flagged not_face, duplicate or
            mislabeled-without-a-label.
        splits: splits to score.
        tta: flip test-time augmentation.

    Returns:
        DataFrame with columns split, target ('original', 'corrected', 'FER+ majority'), n
        (images scored), changed (of them, labels that differ from the original), before, after
        (accuracy 0..1) and change (after - before).
    """
    from fer_core.models.checkpoint import load_checkpoint
    from fer_core.models.inference import predict_probs

    models = []
    for m in (before, after):
        model = load_checkpoint(m)[0] if isinstance(m, (str, bytes)) or hasattr(m, "__fspath__") else m
        ls = getattr(model, "label_set", None)
        if ls not in ("fer2013", "fer6"):
            raise ValueError(f"checkpoint {m}: label set {ls!r}; the report compares FER2013 or FER6 models")
        models.append(model)
    if models[0].label_set != models[1].label_set:
        raise ValueError(f"before and after use different label sets ({models[0].label_set} vs "
                         f"{models[1].label_set}): their accuracies are not comparable")
    to_model_space = (lambda y: np.where(y >= 0, FER2013_TO_FER6[np.maximum(y, 0)], -1)) \
        if models[0].label_set == "fer6" else (lambda y: y)
    recs = []
    for split in splits:
        idx = np.flatnonzero(dataset.split == split)
        if len(idx) == 0:
            raise ValueError(f"no rows in split {split!r}; the dataset has {sorted(set(dataset.split.tolist()))}")
        preds = [predict_probs(m, dataset.images[idx], batch_size=batch_size, tta=tta).argmax(1) for m in models]
        original = to_model_space(dataset.labels[idx])
        for target, y in _targets(dataset, idx, corrections).items():
            y = to_model_space(y)
            ok = y >= 0
            if not ok.any():
                continue
            acc = [float((p[ok] == y[ok]).mean()) for p in preds]
            recs.append({"split": split, "target": target, "n": int(ok.sum()),
                         "changed": int((y[ok] != original[ok]).sum()), "before": acc[0], "after": acc[1],
                         "change": acc[1] - acc[0]})
    return pd.DataFrame(recs, columns=["split", "target", "n", "changed", "before", "after", "change"])


def format_report(table: pd.DataFrame) -> str:
    """The comparison as an aligned text table (accuracies in %, change in points)."""
    t = table.copy()
    for c in ("before", "after"):
        t[c] = t[c].map(lambda v: f"{v:.1%}")
    t["change"] = t["change"].map(lambda v: f"{100 * v:+.1f} pt")
    return t.to_string(index=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fer_core.corrections",
                                description="Reviewed label corrections: compare models before/after.")
    sub = p.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="score two checkpoints on the test splits against the original, "
                                        "corrected and FER+ labels")
    CorrectionsReportConfig.add_arguments(rep)
    rep.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    from fer_core import cli
    return cli.run(lambda: _report(CorrectionsReportConfig.from_args(a), as_json=a.json), as_json=a.json)


def _report(cfg: CorrectionsReportConfig, *, as_json: bool) -> int:
    from fer_core.data.dataset import load_dataset
    if not cfg.after:
        raise ValueError("--after is required: the checkpoint trained with the corrections")
    ds = load_dataset(cfg.data or None, cfg.ferplus or None)
    corr = read_corrections(cfg.label_corrections) if cfg.label_corrections else None
    table = compare_checkpoints(ds, cfg.before, cfg.after, corrections=corr, splits=cfg.splits, tta=cfg.tta,
                                batch_size=cfg.batch_size)
    if as_json:
        print(json.dumps({"config": cfg.to_dict(), "rows": table.to_dict("records")}))
    else:
        print(f"before: {cfg.before}\nafter:  {cfg.after}\n")
        print(format_report(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
