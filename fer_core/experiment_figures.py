"""Vega-Lite (Altair) chart of the experiments (fer_core.experiments): accuracy vs cost. The
learning curve is `quick_figures.learning_curve_chart`; Vega-Lite, not Plotly, for the reason
given there (a new tab draws it about 1 s sooner)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import altair as alt

from .experiments import PEERS, pareto_front
from .quick_figures import svg

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
