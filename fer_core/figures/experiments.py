"""Vega-Lite (Altair) charts of the experiments (fer_core.training.experiments): the learning curve
and accuracy vs cost. Vega-Lite, not Plotly, for the reason given in `figures.model` (a new tab
draws it about 1 s sooner)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import altair as alt

from fer_core.figures.style import svg
from fer_core.training.experiments import PEERS, curve_trend, learning_curve, pareto_front

#: cost axes of the model-size table: column -> (axis title, scale to the shown unit)
COSTS = {"params": ("parameters (millions)", 1e-6), "macs": ("multiply-accumulates per image (millions)", 1e-6),
         "latency_ms": ("CPU latency, batch 1 (ms)", 1.0), "file_bytes": ("file size, fp16 weights (KB)", 1 / 1024)}
METRICS = {"private_acc": "PrivateTest accuracy", "public_acc": "PublicTest accuracy (selection split)",
           "private_macro_f1": "PrivateTest macro-F1"}


def cost_accuracy_chart(rows: list[dict], *, cost: str = "params", peers=PEERS, height: int = 380,
                        width: int = 880) -> alt.VConcatChart:
    """Accuracy vs cost (log x) of the trained models, the Pareto front among them and the peers
    (file-size axis only: their other costs are unknown), over a strip that places every
    measured architecture, trained or not, on the same cost axis."""
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {sorted(COSTS)}, got {cost!r}")
    title, scale = COSTS[cost]
    df = pd.DataFrame(rows)
    df["x"] = df[cost] * scale
    df["label"] = [f"{m} w{w:g}" + (f" ({c})" if c else "") for m, w, c in zip(df["model"], df["width"], df["checkpoint"])]
    df["status"] = np.where(df["accuracy"].notna(), "trained", "untrained")
    x = alt.X("x:Q", scale=alt.Scale(type="log"), title=title)
    kinds = ["this project", "published peer"]
    pts = pd.DataFrame([{"label": r["label"], "x": r["x"], "accuracy": r["accuracy"], "kind": "this project"}
                        for _, r in df[df["accuracy"].notna()].iterrows()]
                       + ([{"label": p["name"], "x": p["file_kb"], "accuracy": p["accuracy"], "kind": "published peer"}
                           for p in peers] if cost == "file_bytes" else []),
                       columns=["label", "x", "accuracy", "kind"])
    top = alt.Chart(pts).encode(x=alt.X("x:Q", scale=alt.Scale(type="log"), title=None))
    if len(pts):
        front = pts[pareto_front(pts["x"].to_numpy(float), pts["accuracy"].to_numpy(float))].sort_values("x")
        y = alt.Y("accuracy:Q", title="PrivateTest accuracy", axis=alt.Axis(format=".0%"),
                  scale=alt.Scale(domain=[max(0.0, pts["accuracy"].min() - 0.05), min(1.0, pts["accuracy"].max() + 0.05)]))
        layer = (alt.Chart(front.assign(series="Pareto front")).mark_line(strokeDash=[2, 3], color="#999").encode(
                     x=alt.X("x:Q", scale=alt.Scale(type="log"), title=None), y=y)
                 + top.mark_point(size=150, filled=True).encode(
                     y=y, shape=alt.Shape("kind:N", sort=kinds, scale=alt.Scale(domain=kinds, range=["circle", "diamond"]),
                                          legend=None),
                     color=alt.Color("kind:N", sort=kinds, scale=alt.Scale(domain=kinds, range=["#1f77b4", "#ff7f0e"]),
                                     legend=alt.Legend(orient="top", title=None)),
                     tooltip=["label:N", alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("x:Q", format=",.3g",
                                                                                              title=title)])
                 + top.mark_text(dy=-14, fontSize=11).encode(y=y, text="label:N"))
    else:
        layer = top.mark_point().encode(y=alt.Y("accuracy:Q", title="PrivateTest accuracy"))
    strip = alt.Chart(df).mark_point(size=80, filled=True, stroke="#555", strokeWidth=1).encode(
        x=x, y=alt.Y("status:N", sort=["trained", "untrained"], title=None),
        color=alt.Color("status:N", scale=alt.Scale(domain=["trained", "untrained"], range=["#1f77b4", "#bbb"]),
                        legend=None),
        tooltip=["label:N", alt.Tooltip("x:Q", format=",.3g", title=title)])
    return svg(alt.vconcat(layer.properties(height=height, width=width), strip.properties(height=70, width=width))
                .resolve_scale(x="shared", color="independent"))


def learning_curve_chart(runs: list[dict], *, metric: str = "private_acc", reference: tuple[str, float] | None = None,
                         height: int = 380) -> alt.LayerChart:
    """Mean accuracy vs training images (log x) with ± one standard deviation over seeds, each
    seed's run as a faint dot, the last segment labelled with its gain per doubling, and an
    optional reference level (label, value), e.g. a longer-trained model on all the data."""
    curve = learning_curve(runs, metric=metric)
    df = pd.DataFrame(runs)
    seeds = pd.DataFrame({"n_train": df["n_train"], "value": df[metric], "fraction": df["fraction"],
                          "seed": df["seed"], "series": "one run (seed)"})
    mean = curve.assign(value=curve["mean"], lo=(curve["mean"] - curve["std"]).clip(0, 1),
                        hi=(curve["mean"] + curve["std"]).clip(0, 1), series="mean over seeds",
                        text=[f"{v:.1%}" for v in curve["mean"]])
    full = float(curve["n_train"].iloc[-1] / curve["fraction"].iloc[-1])  # images in the whole Training split
    lo, hi = float(np.nanmin(df[metric])), float(np.nanmax(df[metric]))
    if reference is not None:
        lo, hi = min(lo, reference[1]), max(hi, reference[1])
    x = alt.X("n_train:Q", scale=alt.Scale(type="log", nice=False, padding=30),
              title="training images (log scale; share of the Training split)",
              axis=alt.Axis(values=[float(v) for v in curve["n_train"]], grid=False,
                            labelExpr=f"format(datum.value, ',.0f') + ' (' + format(datum.value / {full}, '.0%') + ')'"))
    y = alt.Y("value:Q", title=METRICS.get(metric, metric), axis=alt.Axis(format=".0%"),
              scale=alt.Scale(domain=[max(0.0, lo - 0.05), min(1.0, hi + 0.05)], zero=False))
    color = alt.Color("series:N", legend=alt.Legend(orient="top", title=None),
                      scale=alt.Scale(domain=["one run (seed)", "mean over seeds"], range=["#9ecae1", "#1f77b4"]))
    dots = alt.Chart(seeds).mark_circle(size=45, opacity=0.6).encode(
        x=x, y=y, color=color, tooltip=[alt.Tooltip("n_train:Q", format=",", title="images"), "fraction:Q", "seed:Q",
                                        alt.Tooltip("value:Q", format=".1%", title=METRICS.get(metric, metric))])
    line = alt.Chart(mean).encode(x=x)
    layer = (dots
             + line.mark_errorbar(ticks=True, color="#1f77b4").encode(y=alt.Y("lo:Q", title=None), y2="hi:Q")
             + line.mark_line(point=alt.OverlayMarkDef(size=70), strokeWidth=2.5).encode(
                 y=y, color=color, tooltip=[alt.Tooltip("n_train:Q", format=",.0f", title="images"), "fraction:Q",
                                            alt.Tooltip("value:Q", format=".1%", title="mean"),
                                            alt.Tooltip("std:Q", format=".1%", title="std over seeds"),
                                            alt.Tooltip("n:Q", title="seeds")])
             + line.mark_text(dx=-8, dy=-12, align="right", fontSize=11).encode(y=y, text="text:N"))
    t = curve_trend(curve)
    if t:
        a, b = curve.iloc[-2], curve.iloc[-1]
        note = pd.DataFrame([{"n_train": float(np.sqrt(a["n_train"] * b["n_train"])),
                              "value": float((a["mean"] + b["mean"]) / 2),
                              "text": f"{'still rising' if t['rising'] else 'flat'}: "
                                      f"{t['gain_per_doubling'] * 100:+.1f} points per doubling"}])
        layer += alt.Chart(note).mark_text(dy=40, fontSize=12, color="#d62728" if t["rising"] else "#555").encode(
            x=x, y=y, text="text:N")
    if reference is not None:
        ref = alt.Chart(pd.DataFrame([{"value": reference[1], "text": reference[0]}]))
        layer += (ref.mark_rule(strokeDash=[6, 4], color="#2ca02c").encode(y=y)
                  + ref.mark_text(align="left", x=5, dy=-7, color="#2ca02c", fontSize=11).encode(y=y, text="text:N"))
    return svg(layer.properties(height=height))
