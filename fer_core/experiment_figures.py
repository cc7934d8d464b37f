"""Plotly figures of the experiments (fer_core.experiments): learning curve and accuracy vs cost."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .experiments import PEERS, curve_trend, learning_curve, pareto_front

#: cost axes of the model-size table: column -> (axis title, scale to the shown unit)
COSTS = {"params": ("parameters (millions)", 1e-6), "macs": ("multiply-accumulates per image (millions)", 1e-6),
         "latency_ms": ("CPU latency, batch 1 (ms)", 1.0), "file_bytes": ("file size, fp16 weights (KB)", 1 / 1024)}
METRICS = {"private_acc": "PrivateTest accuracy", "public_acc": "PublicTest accuracy (selection split)",
           "private_macro_f1": "PrivateTest macro-F1"}


def learning_curve_figure(runs: list[dict], *, metric: str = "private_acc", reference: tuple[str, float] | None = None,
                          height: int = 420) -> go.Figure:
    """Mean accuracy vs training images (log x) with +-1 std error bars over seeds, each seed's run
    as a faint dot, the last segment labelled with its gain per doubling, and an optional
    reference level (label, value), e.g. a longer-trained model on all the data."""
    curve = learning_curve(runs, metric=metric)
    df = pd.DataFrame(runs)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=df["n_train"], y=df[metric], mode="markers", name="one run (seed)",
        marker=dict(size=7, color="rgba(31,119,180,0.35)"), customdata=np.stack([df["fraction"], df["seed"]], 1),
        hovertemplate="%{x:,} images (fraction %{customdata[0]:g}), seed %{customdata[1]}: %{y:.1%}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=curve["n_train"], y=curve["mean"], mode="lines+markers+text", name="mean over seeds",
        error_y=dict(type="data", array=curve["std"], visible=True, thickness=1.5, width=6),
        text=[f"{v:.1%}" for v in curve["mean"]], textposition="top left",
        line=dict(color="#1f77b4", width=2.5), marker=dict(size=9),
        customdata=np.stack([curve["fraction"], curve["std"], curve["n"]], 1),
        hovertemplate="%{x:,.0f} images (fraction %{customdata[0]:g}): %{y:.1%} ± %{customdata[1]:.1%} "
                      "(%{customdata[2]} seeds)<extra></extra>"))
    t = curve_trend(curve)
    if t:
        a, b = curve.iloc[-2], curve.iloc[-1]
        word = "still rising" if t["rising"] else "flat"
        fig.add_annotation(x=np.log10(np.sqrt(a["n_train"] * b["n_train"])), y=(a["mean"] + b["mean"]) / 2,
                           text=f"{word}: {t['gain_per_doubling'] * 100:+.1f} points<br>per doubling", showarrow=True,
                           ax=-30, ay=-60, font=dict(color="#d62728" if t["rising"] else "#555"))
    lo = float(np.nanmin(df[metric])) if len(df) else 0.0
    hi = float(np.nanmax(df[metric])) if len(df) else 1.0
    if reference is not None:
        fig.add_hline(y=reference[1], line=dict(dash="dash", color="#2ca02c"), annotation_text=reference[0],
                      annotation_position="top left", annotation_font_color="#2ca02c")
        lo, hi = min(lo, reference[1]), max(hi, reference[1])
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.08),
                      xaxis=dict(title="training images (log scale; share of the Training split)", type="log",
                                 tickvals=curve["n_train"],
                                 ticktext=[f"{n:,.0f}<br>({f:.0%})" for n, f in zip(curve["n_train"], curve["fraction"])]),
                      yaxis=dict(title=METRICS.get(metric, metric), tickformat=".0%",
                                 range=[max(0.0, lo - 0.05), min(1.0, hi + 0.05)]))
    return fig


def cost_accuracy_figure(rows: list[dict], *, cost: str = "params", peers=PEERS, height: int = 520) -> go.Figure:
    """Accuracy vs cost (log x) of the trained models, the Pareto front among them and the peers
    (file-size axis only: their other costs are unknown), over a strip that places every
    measured architecture, trained or not, on the same cost axis."""
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {sorted(COSTS)}, got {cost!r}")
    title, scale = COSTS[cost]
    df = pd.DataFrame(rows)
    df["x"] = df[cost] * scale
    df["label"] = [f"{m} w{w:g}" + (f" ({c})" if c else "") for m, w, c in zip(df["model"], df["width"], df["checkpoint"])]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.04)
    trained = df[df["accuracy"].notna()].copy()
    pts = [(r["label"], r["x"], r["accuracy"], "this project") for _, r in trained.iterrows()]
    if cost == "file_bytes":
        pts += [(p["name"], p["file_kb"], p["accuracy"], "published peer") for p in peers]
    if pts:
        names, xs, accs, kinds = map(list, zip(*pts))
        front = pareto_front(np.array(xs, float), np.array(accs, float))
        order = np.argsort(np.array(xs, float)[front])
        fig.add_trace(go.Scatter(x=np.array(xs)[front][order], y=np.array(accs)[front][order], mode="lines",
                                 line=dict(dash="dot", color="#999"), name="Pareto front", hoverinfo="skip"),
                      row=1, col=1)
        for kind, color, symbol in (("this project", "#1f77b4", "circle"), ("published peer", "#ff7f0e", "diamond")):
            idx = [i for i, k in enumerate(kinds) if k == kind]
            if idx:
                fig.add_trace(go.Scatter(
                    x=[xs[i] for i in idx], y=[accs[i] for i in idx], mode="markers+text", name=kind,
                    text=[names[i] for i in idx], textposition="top center",
                    marker=dict(size=13, color=color, symbol=symbol),
                    hovertemplate="%{text}: %{y:.1%} at %{x:,.3g}<extra></extra>"), row=1, col=1)
        ys = np.array(accs, float)
        fig.update_yaxes(range=[max(0.0, ys.min() - 0.05), min(1.0, ys.max() + 0.05)], row=1, col=1)
    fig.add_trace(go.Scatter(
        x=df["x"], y=np.where(df["accuracy"].notna(), "trained", "untrained"), mode="markers", name="measured cost",
        text=df["label"], marker=dict(size=9, color=np.where(df["accuracy"].notna(), "#1f77b4", "#bbb"),
                                      line=dict(width=1, color="#555")),
        hovertemplate="%{text}: %{x:,.3g}<extra></extra>", showlegend=False), row=2, col=1)
    fig.update_xaxes(type="log", row=1, col=1)
    fig.update_xaxes(type="log", title=title, row=2, col=1)
    fig.update_yaxes(title="PrivateTest accuracy", tickformat=".0%", row=1, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=["untrained", "trained"], row=2, col=1)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.08))
    return fig
