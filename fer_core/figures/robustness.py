"""Vega-Lite (Altair) charts of robustness sweeps (fer_core.analysis.robustness): charts out, nothing drawn.

Every function takes sweep results as ``{(model, corruption): result}`` (the dicts of
:func:`fer_core.analysis.robustness.get_sweep`). Vega-Lite, not Plotly, for the reason in
:mod:`fer_core.figures.model`: the Robustness page draws all of these on its first run, and one
Plotly chart would hold the whole page until Plotly's bundle has run (about 1 s in a new tab).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from fer_core.figures.style import CELL_TEXT, MODEL_COLORS, dark_cells, svg
from fer_core.analysis.robustness import CORRUPTIONS, summarize

#: One colour per model, in the order the models are given (the first is the default model).

Results = Mapping[tuple[str, str], Mapping[str, np.ndarray]]


def _model_color(models: Sequence[str], shown: Sequence[str], *, legend: bool = True) -> alt.Color:
    """Each model keeps its colour (its position in `models`) whichever of them are shown."""
    return alt.Color("model:N", sort=list(shown), legend=alt.Legend(orient="top", title=None) if legend else None,
                     scale=alt.Scale(domain=list(shown),
                                     range=[MODEL_COLORS[list(models).index(m) % len(MODEL_COLORS)] for m in shown]))


def summary_chart(results: Results, models: Sequence[str], *, height: int = 340) -> alt.LayerChart:
    """Mean accuracy over the severities > 0 of each corruption, models side by side, each model's
    clean accuracy as a dashed rule. Attacks are drawn too but, as in ImageNet-C, not averaged into
    the mCA of :func:`fer_core.analysis.robustness.summary_table`."""
    corr = [c for c in CORRUPTIONS if any((m, c) in results for m in models)]
    bars, clean = [], []
    for m in models:
        have = [c for c in corr if (m, c) in results]
        for c in have:
            acc = float(np.asarray(results[(m, c)]["accuracy"])[:, 1:].mean())
            bars.append({"model": m, "corruption": CORRUPTIONS[c].title, "accuracy": acc, "text": f"{acc:.0%}"})
        if have:
            acc = float(np.asarray(results[(m, have[0])]["accuracy"])[:, 0].mean())
            clean.append({"model": m, "clean": acc, "text": f"{m} clean {acc:.1%}"})
    shown = [m for m in models if any(b["model"] == m for b in bars)]
    color = _model_color(models, shown)
    order = [CORRUPTIONS[c].title for c in corr]
    base = alt.Chart(pd.DataFrame(bars)).encode(
        x=alt.X("corruption:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=160)),
        xOffset=alt.XOffset("model:N", sort=shown),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1.08]), axis=alt.Axis(format=".0%"),
                title="mean accuracy over severities"))
    layer = (base.mark_bar().encode(color=color, tooltip=[
                 "model:N", "corruption:N", alt.Tooltip("accuracy:Q", format=".1%", title="mean accuracy (severity > 0)")])
             + base.mark_text(dy=-6, fontSize=11).encode(text="text:N"))
    if clean:
        rules = alt.Chart(pd.DataFrame(clean))
        layer = (layer + rules.mark_rule(strokeDash=[6, 4], strokeWidth=1.5).encode(y="clean:Q", color=color)
                 + rules.mark_text(align="right", dy=-6, x="width", fontSize=11).encode(y="clean:Q", text="text:N",
                                                                                        color=color))
    return svg(layer.properties(height=height))


def severity_frame(results: Results, models: Sequence[str], corruption: str) -> pd.DataFrame:
    """One row per (model, severity level) of one corruption: level index, its label, mean, std,
    the ± one-std band clipped to [0, 1], and the number of repeats."""
    rows = []
    for m in models:
        res = results.get((m, corruption))
        if res is None:
            continue
        s, reps = summarize(res), len(res["accuracy"])
        for j, v in enumerate(res["levels"]):
            rows.append({"model": m, "level": j, "label": CORRUPTIONS[corruption].label(v), "mean": float(s["mean"][j]),
                         "std": float(s["std"][j]), "lo": float(np.clip(s["mean"][j] - s["std"][j], 0, 1)),
                         "hi": float(np.clip(s["mean"][j] + s["std"][j], 0, 1)), "repeats": reps})
    return pd.DataFrame(rows, columns=["model", "level", "label", "mean", "std", "lo", "hi", "repeats"])


def severity_panels(results: Results, models: Sequence[str], corruptions: Sequence[str], *, width: int = 260,
                    height: int = 250) -> list[alt.LayerChart]:
    """Accuracy against severity, one chart per corruption (its own severity labels), one line per
    model with a band of ± one standard deviation over the repeats (none for a deterministic
    corruption) and, dotted, the majority-class rate (what always answering the most frequent class
    scores). Separate charts of `width` x `height` px (Streamlit fits the whole chart, title and axes
    included, into that size), so a page can lay them out in a row that wraps at its width (three
    fit a 1280 px window beside the sidebar); no legend (the colours are :func:`summary_chart`'s)."""
    shown = [c for c in corruptions if any((m, c) in results for m in models)]
    present = [m for m in models if any((m, c) in results for c in shown)]
    color = _model_color(models, present, legend=False)
    y = alt.Y("mean:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%"), title="accuracy")
    panels = []
    for c in shown:
        df = severity_frame(results, models, c)
        labels = df.drop_duplicates("level").sort_values("level")["label"].tolist()
        x = alt.X("label:N", sort=labels, title=CORRUPTIONS[c].param, axis=alt.Axis(labelAngle=0))
        base = alt.Chart(df).encode(x=x, color=color)
        counts = next(np.asarray(results[(m, c)]["class_counts"]) for m in models if (m, c) in results)
        majority = alt.Chart(pd.DataFrame({"mean": [counts.max() / max(counts.sum(), 1)]})).mark_rule(
            strokeDash=[2, 3], color="grey").encode(y=y)
        line = base.mark_line(point=True).encode(
            y=y, tooltip=["model:N", alt.Tooltip("label:N", title=CORRUPTIONS[c].param),
                          alt.Tooltip("mean:Q", format=".1%", title="accuracy"),
                          alt.Tooltip("std:Q", format=".1%", title="± std"), "repeats:Q"])
        band = base.mark_area(opacity=0.2).encode(y=alt.Y("lo:Q", scale=alt.Scale(domain=[0, 1])), y2="hi:Q")
        panels.append(svg((line + band + majority).properties(title=CORRUPTIONS[c].title, height=height, width=width)))
    return panels


def class_heatmap(result: Mapping[str, np.ndarray], corruption: str, classes: Sequence[str]) -> alt.LayerChart:
    """Per-class accuracy (mean over repeats) at each severity: rows = classes (with their image
    counts), columns = levels; "—" where a class has no image."""
    z = summarize(result)["class_mean"].T  # (K, S)
    counts = np.asarray(result["class_counts"])
    spec = CORRUPTIONS[corruption]
    xl = [spec.label(v) for v in result["levels"]]
    yl = [f"{c} ({n})" for c, n in zip(classes, counts)]
    df = pd.DataFrame([{"cls": yl[k], "level": xl[j], "accuracy": float(z[k, j]) if np.isfinite(z[k, j]) else None,
                        "text": f"{z[k, j]:.0%}" if np.isfinite(z[k, j]) else "—"}
                       for k in range(len(yl)) for j in range(len(xl))])
    df["dark"] = dark_cells(df["accuracy"].to_numpy(dtype=float), scheme="redyellowgreen")  # white text on them
    base = alt.Chart(df).encode(x=alt.X("level:N", sort=xl, title=spec.param, axis=alt.Axis(labelAngle=0)),
                                y=alt.Y("cls:N", sort=yl, title="class (images)"))
    layer = (base.mark_rect().encode(
                 color=alt.Color("accuracy:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]),
                                 legend=alt.Legend(format=".0%", title="accuracy")),
                 tooltip=[alt.Tooltip("cls:N", title="class"), alt.Tooltip("level:N", title=spec.param),
                          alt.Tooltip("accuracy:Q", format=".1%")])
             + base.mark_text(fontSize=11).encode(text="text:N", color=CELL_TEXT))
    return svg(layer.properties(title=f"Per-class accuracy: {spec.title}", height=alt.Step(26)))


def repeats_chart(results: Results, models: Sequence[str], corruption: str, level_index: int) -> alt.LayerChart:
    """The accuracy of every repeat at one severity, one box per model with every repeat as a dot."""
    rows, level = [], ""
    for m in models:
        res = results.get((m, corruption))
        if res is None or level_index >= len(res["levels"]):
            continue
        level = CORRUPTIONS[corruption].label(res["levels"][level_index])
        rows += [{"model": m, "repeat": r + 1, "accuracy": float(a)}
                 for r, a in enumerate(np.asarray(res["accuracy"])[:, level_index])]
    df = pd.DataFrame(rows, columns=["model", "repeat", "accuracy"])
    shown = list(dict.fromkeys(df["model"]))
    color = _model_color(models, shown, legend=False)
    base = alt.Chart(df).encode(x=alt.X("model:N", sort=shown, title=None, axis=alt.Axis(labelAngle=0)),
                                y=alt.Y("accuracy:Q", scale=alt.Scale(zero=False), axis=alt.Axis(format=".1%")))
    layer = (base.mark_boxplot(extent="min-max", opacity=0.5, size=50).encode(color=color)
             + base.mark_circle(size=50, color="#222").encode(
                 tooltip=["model:N", "repeat:Q", alt.Tooltip("accuracy:Q", format=".2%")]))
    spec = CORRUPTIONS[corruption]
    return svg(layer.properties(height=300, title=alt.TitleParams(
        "Accuracy of each repeat", subtitle=f"{spec.title}, {spec.param} {level}")))
