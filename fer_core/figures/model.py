"""Vega-Lite (Altair) charts of a model's scores: confusion matrix (clickable cells), per-class
scores, calibration, top-k accuracy, training curves.

Why Vega-Lite and not Plotly: in a new browser tab Streamlit's Plotly bundle (4.7 MB of
JavaScript) takes about 1 s before anything else on the page is drawn, against about 0.1 s for
its Vega-Lite bundle (bench/RESULTS.md, "Page render times"). Charts out, nothing drawn.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from fer_core.figures.style import CELL_TEXT, LABEL_EDGE, TOP, svg


def confusion_chart(confusion, classes, *, normalize: bool = False) -> alt.LayerChart:
    """Confusion matrix (rows = true, columns = predicted) whose cells are clickable: with
    `st.altair_chart(..., on_select="rerun")` a click selects the cell (point selection "cell"
    on fields t, p); :func:`confusion_cell` reads it back. Row-normalised shares when `normalize`."""
    cm = np.asarray(confusion, dtype=float)
    k = len(classes)
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    t, p = (a.ravel() for a in np.meshgrid(np.arange(k), np.arange(k), indexing="ij"))
    z = shown[t, p]
    zmax = float(z.max()) if z.max() > 0 else 1.0
    df = pd.DataFrame({"t": t, "p": p, "true": [classes[i] for i in t], "predicted": [classes[j] for j in p],
                       "value": z, "images": cm[t, p].astype(int),
                       "text": [f"{v:.0%}" if normalize else f"{int(v)}" for v in z], "dark": z > 0.55 * zmax})
    cell = alt.selection_point(name="cell", fields=["t", "p"], on="click", clear="dblclick")
    order = list(classes)
    base = alt.Chart(df).encode(
        # Slanted, never dropped: in a 1280 px window level labels overlapped and Vega hid every other one.
        x=alt.X("predicted:N", sort=order, title="predicted",
                axis=alt.Axis(orient="top", labelAngle=-40, labelOverlap=False, labelAlign="left")),
        y=alt.Y("true:N", sort=order, title="true"))
    rect = base.mark_rect(cursor="pointer", strokeWidth=2).encode(
        color=alt.Color("value:Q", scale=alt.Scale(scheme="blues", domain=[0, zmax]),
                        legend=alt.Legend(title="share" if normalize else "images",
                                          format=".0%" if normalize else "d")),
        stroke=alt.condition(cell, alt.value("#222"), alt.value("white"), empty=False),  # the clicked cell
        tooltip=[alt.Tooltip("true:N"), alt.Tooltip("predicted:N"), alt.Tooltip("images:Q"),
                 alt.Tooltip("text:N", title="row share" if normalize else "count")],
    ).add_params(cell)
    # No tooltip on the numbers: Vega-Lite then makes them non-interactive, so a click on a
    # number goes through to its cell.
    text = base.mark_text(fontSize=13).encode(
        text="text:N", color=CELL_TEXT)
    return svg((rect + text).properties(width=62 * k, height=46 * k))

def confusion_cell(selection) -> tuple[int, int] | None:
    """(true, predicted) of the cell clicked in :func:`confusion_chart`, from the event's
    `selection` (a mapping with key "cell": a list of {"t": .., "p": ..}); None when none is."""
    picked = (selection or {}).get("cell") or []
    if isinstance(picked, dict):  # some Streamlit versions give the fields as lists
        picked = [dict(zip(picked, vals)) for vals in zip(*picked.values())] if picked else []
    if not picked:
        return None
    return int(picked[0]["t"]), int(picked[0]["p"])

def per_class_chart(per_class: pd.DataFrame, *, height: int = 300) -> alt.Chart:
    """Grouped bars of precision, recall and F1 per class (`per_class`: one row per class)."""
    scores = ["precision", "recall", "f1"]
    df = (per_class[scores].rename_axis("class").reset_index()
          .melt(id_vars="class", var_name="score", value_name="value"))
    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X("class:N", sort=list(per_class.index), title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("score:N", sort=scores),
        y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
        color=alt.Color("score:N", sort=scores, legend=alt.Legend(orient="top", title=None)),
        tooltip=["class:N", "score:N", alt.Tooltip("value:Q", format=".3f")])
    return svg(chart.properties(height=height))

def reliability_chart(bins: list[dict], ece: float, *, height: int = 300) -> alt.LayerChart:
    """Reliability diagram: per-bin accuracy against mean confidence (point area = images in the
    bin), with the diagonal of perfect calibration. `bins`: dicts with confidence, accuracy, count."""
    df = pd.DataFrame([b for b in bins if b.get("count", 0) > 0], columns=["confidence", "accuracy", "count"])
    unit = alt.Scale(domain=[0, 1])
    diag = alt.Chart(pd.DataFrame({"confidence": [0.0, 1.0], "accuracy": [0.0, 1.0]})).mark_line(
        strokeDash=[3, 3], color="grey").encode(x=alt.X("confidence:Q", scale=unit), y=alt.Y("accuracy:Q", scale=unit))
    model = alt.Chart(df).encode(x=alt.X("confidence:Q", scale=unit, title="mean confidence"),
                                 y=alt.Y("accuracy:Q", scale=unit, title="accuracy"))
    layer = diag + model.mark_line(color=TOP) + model.mark_circle(color=TOP, opacity=0.8).encode(
        size=alt.Size("count:Q", legend=None, scale=alt.Scale(range=[30, 600])),
        tooltip=[alt.Tooltip("confidence:Q", format=".2f"), alt.Tooltip("accuracy:Q", format=".2f"),
                 alt.Tooltip("count:Q", title="images")])
    return svg(layer.properties(height=height, title=alt.TitleParams(
        f"Reliability (ECE {ece:.3f})", subtitle="point area = images in the bin; dotted: perfect calibration")))

def topk_chart(topk, *, height: int = 300) -> alt.LayerChart:
    """Top-k accuracy for k = 1..len(topk), each point labelled."""
    df = pd.DataFrame({"k": np.arange(1, len(topk) + 1), "accuracy": np.asarray(topk, dtype=float)})
    df["text"] = [f"{v:.1%}" for v in df["accuracy"]]
    base = alt.Chart(df).encode(x=alt.X("k:O", title="k", axis=alt.Axis(labelAngle=0)),
                                y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1.05]), axis=alt.Axis(format=".0%")))
    layer = (base.mark_line(point=True, color=TOP).encode(tooltip=["k:O", alt.Tooltip("accuracy:Q", format=".1%")])
             + base.mark_text(dy=-10, fontSize=11).encode(text="text:N"))
    return svg(layer.properties(height=height, title="Top-k accuracy"))

def history_chart(history: list[dict], *, height: int = 260) -> alt.HConcatChart:
    """Training curves from a checkpoint's per-epoch history: loss and accuracy, train (solid) vs
    PublicTest (dotted) and PublicTest top-3 (dashed)."""
    series = [("train_loss", "loss", "train"), ("val_loss", "loss", "PublicTest"),
              ("train_acc", "accuracy", "train"), ("val_acc", "accuracy", "PublicTest"),
              ("val_top3", "accuracy", "PublicTest top-3")]
    rows = [{"epoch": h["epoch"], "panel": panel, "series": name, "value": h[key]}
            for key, panel, name in series for h in history if h.get(key) is not None]
    df = pd.DataFrame(rows, columns=["epoch", "panel", "series", "value"])
    names = ["train", "PublicTest", "PublicTest top-3"]
    color = alt.Color("series:N", scale=alt.Scale(domain=names, range=[TOP, LABEL_EDGE, "#2ca02c"]),
                      legend=alt.Legend(orient="top", title=None))
    dash = alt.StrokeDash("series:N", scale=alt.Scale(domain=names, range=[[1, 0], [2, 2], [6, 3]]), legend=None)

    def panel(name: str, fmt: str) -> alt.Chart:
        return alt.Chart(df[df["panel"] == name]).mark_line().encode(
            x=alt.X("epoch:Q", title="epoch"), y=alt.Y("value:Q", title=name, axis=alt.Axis(format=fmt),
                                                      scale=alt.Scale(zero=False)),
            color=color, strokeDash=dash, tooltip=["series:N", "epoch:Q", alt.Tooltip("value:Q", format=".3f")]
        ).properties(height=height, width=360)
    return svg(alt.hconcat(panel("loss", ".2f"), panel("accuracy", ".0%")))
