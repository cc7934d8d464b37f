"""One table of every image: labels, FER+ votes, the model's prediction and loss, the label-error
and outlier scores, duplicate groups and the reviewers' current decision; filters and sorting.

Arrays in, a DataFrame out (no Streamlit). Columns whose inputs are not given are left out, so a
caller shows what is built. The All images page pages through :func:`query`'s result.

Example:
    >>> t = image_table(ds, probs=pred["probs"], classes=pred["classes"], label_errors=res, groups=g)
    >>> t = with_flags(t, flags.latest(ds.data_hash))
    >>> shown = query(t, labels=["fear"], sort_by="label-error score", descending=True)
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from fer_core.analysis.attention import border_share
from fer_core.analysis.model_compare import disagreement
from fer_core.constants import FER2013_EMOTIONS, FERPLUS_EMOTIONS
from fer_core.data import images as fimg
from fer_core.data.dataset import Dataset

#: What the "flag" filter can keep: every image, those without a decision, those with one, and
#: those whose current decision is not 'not_error' (FlagStore.counts' "flagged").
FLAG_FILTERS = ("all", "not reviewed", "reviewed", "flagged")


#: The columns :func:`image_table` adds when it compares models (``models=``).
MODEL_COLUMNS = ("models' top-1", "models disagree", "models JS", "models gap")


def image_table(ds: Dataset, *, probs: np.ndarray | None = None, classes=None, label_errors: dict | None = None,
                groups: np.ndarray | None = None, models: dict[str, np.ndarray] | None = None,
                attention: np.ndarray | None = None) -> pd.DataFrame:
    """One row per image of `ds`, in dataset order.

    Args:
        ds: the dataset.
        probs: (N, K) predicted probabilities (rows sum to 1) with class names `classes`; adds
            prediction, confidence (its probability) and loss (-log p(FER2013 label); NaN for
            unlabeled images or a model whose classes are not FER2013's).
        label_errors: the label_errors artifact; adds label-error score (``score_ensemble``,
            higher = more likely mislabeled) and outlier score (higher = less face-like).
        groups: (N,) int duplicate groups (-1 = none); adds duplicate group (<NA> for none).
        models: two or more models' (N, K) probabilities of the classes `classes`, by model name
            (the first the one of `probs`); adds :data:`MODEL_COLUMNS`: each model's top-1 class
            ("happy | sad", in the order given), whether they differ, the Jensen-Shannon divergence
            of their probabilities (bits) and the largest gap between two models' probabilities of
            one class (:func:`fer_core.analysis.model_compare.disagreement`). Fewer than two: no columns.
        attention: (N, G*G) the attention artifact's summaries; adds border attention (the share of
            the image's Grad-CAM map on the frame's border, :func:`fer_core.analysis.attention.border_share`).

    Returns:
        DataFrame with index, row, split, label, and when FER+ votes are loaded FER+ majority,
        FER+ vs label (agree / disagree / no majority) and FER+ agreement (share of the votes on
        the majority class), then the optional columns above.
    """
    n = len(ds)
    names = np.array(FER2013_EMOTIONS + ("—",))
    t = pd.DataFrame({"index": np.arange(n), "row": ds.row, "split": ds.split,
                      "label": names[np.where(ds.labels >= 0, ds.labels, len(FER2013_EMOTIONS))]})
    if ds.ferplus is not None:
        fp = ds.ferplus
        t["FER+ majority"] = np.array(FERPLUS_EMOTIONS + ("no majority",))[
            np.where(fp.majority >= 0, fp.majority, len(FERPLUS_EMOTIONS))]
        codes = fimg.agreement_codes(ds.labels, fp.majority, fp.majority_fer2013)
        t["FER+ vs label"] = np.array(fimg.AGREEMENT)[codes]
        votes = fp.votes.astype(np.float64)
        total = votes.sum(1)
        top = np.take_along_axis(votes, np.maximum(fp.majority, 0)[:, None], 1)[:, 0]
        t["FER+ agreement"] = np.where((fp.majority >= 0) & (total > 0), top / np.maximum(total, 1), np.nan)
    if probs is not None:
        probs = np.asarray(probs)
        if probs.shape[0] != n:
            raise ValueError(f"probs has {probs.shape[0]} rows; the dataset has {n}")
        k = probs.argmax(1)
        t["prediction"] = np.asarray(classes)[k]
        t["confidence"] = probs[np.arange(n), k]
        loss = np.full(n, np.nan)
        if tuple(classes) == FER2013_EMOTIONS:
            lab = ds.labels >= 0
            loss[lab] = -np.log(np.maximum(probs[lab, ds.labels[lab]], 1e-12))
        t["loss"] = loss
    if label_errors is not None:
        t["label-error score"] = np.asarray(label_errors["score_ensemble"], np.float64)
        t["outlier score"] = np.asarray(label_errors["outlier_score"], np.float64)
    if models is not None and len(models) >= 2:
        d = disagreement(list(models.values()))
        names = np.asarray([str(c) for c in classes])[d["top1"]]  # (M, N)
        t["models' top-1"] = [" | ".join(col) for col in names.T.tolist()]
        t["models disagree"] = d["differs"]
        t["models JS"] = d["js"]
        t["models gap"] = d["gap"]
    if attention is not None:
        t["border attention"] = border_share(attention).astype(np.float64)
    if groups is not None:
        t["duplicate group"] = pd.array(np.where(np.asarray(groups) >= 0, groups, -1), dtype="Int64")
        t.loc[t["duplicate group"] < 0, "duplicate group"] = pd.NA
    return t


def with_flags(table: pd.DataFrame, latest: pd.DataFrame) -> pd.DataFrame:
    """`table` with the reviewers' current decision on each image's source row: columns flag (the
    decision, '' for none) and corrected label (the FER2013 class a 'mislabeled' decision gives,
    '' for none). `latest` is ``FlagStore.latest(data_hash)`` (columns row, decision, label)."""
    rows = table["row"].tolist()
    if not len(latest):
        return table.assign(flag=[""] * len(rows), **{"corrected label": [""] * len(rows)})
    decision = dict(zip(latest["row"].tolist(), latest["decision"].tolist()))
    names = {r: "" if pd.isna(k) else FER2013_EMOTIONS[int(k)] for r, k in zip(latest["row"].tolist(),
                                                                                latest["label"].tolist())}
    return table.assign(flag=[decision.get(r, "") for r in rows],
                        **{"corrected label": [names.get(r, "") for r in rows]})


def query(table: pd.DataFrame, *, splits: Iterable[str] = (), labels: Iterable[str] = (),
          predictions: Iterable[str] = (), flag: str = "all", sort_by: str = "index",
          descending: bool = False) -> pd.DataFrame:
    """The rows of `table` that pass every filter (an empty filter keeps all), sorted by
    `sort_by` (stable: ties keep dataset order; missing values last).

    Args:
        splits, labels, predictions: values of split, label, prediction to keep.
        flag: one of :data:`FLAG_FILTERS` (needs the flag column of :func:`with_flags`).
        sort_by: a column of `table`.

    Raises:
        ValueError: an unknown flag filter or sort column, or a filter on a missing column.
    """
    keep = np.ones(len(table), bool)
    for col, chosen in (("split", splits), ("label", labels), ("prediction", predictions)):
        chosen = list(chosen)
        if chosen:
            if col not in table:
                raise ValueError(f"cannot filter on {col!r}: the table has no such column")
            keep &= table[col].isin(chosen).to_numpy()
    if flag not in FLAG_FILTERS:
        raise ValueError(f"flag filter must be one of {FLAG_FILTERS}, got {flag!r}")
    if flag != "all":
        f = table["flag"].to_numpy()
        keep &= {"not reviewed": f == "", "reviewed": f != "", "flagged": (f != "") & (f != "not_error")}[flag]
    if sort_by not in table:
        raise ValueError(f"cannot sort by {sort_by!r}; columns: {list(table.columns)}")
    out = table[keep]
    return out.sort_values(sort_by, ascending=not descending, kind="stable", na_position="last")
