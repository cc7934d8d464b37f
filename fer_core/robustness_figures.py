"""Plotly figures of robustness sweeps (fer_core.robustness): figures out, nothing drawn.

Every function takes sweep results as ``{(model, corruption): result}`` (the dicts of
:func:`fer_core.robustness.get_sweep`) and returns a ``go.Figure``.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from .robustness import CORRUPTIONS, summarize

#: One colour per model, in the order the models are given (the first is the default model).
MODEL_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
Results = Mapping[tuple[str, str], Mapping[str, np.ndarray]]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _ticks(corruption: str, levels) -> dict:
    spec = CORRUPTIONS[corruption]
    return dict(tickmode="array", tickvals=list(range(len(levels))), ticktext=[spec.label(v) for v in levels])


def severity_figure(results: Results, models: Sequence[str], corruptions: Sequence[str], *,
                    cols: int = 0, height_per_row: int = 260) -> go.Figure:
    """Accuracy against severity, one panel per corruption, one line per model, with a band of
    ± one standard deviation over the repeats (none for a deterministic corruption) and, dotted,
    the majority-class rate (what always answering the most frequent class scores). `cols`
    panels per row (0: up to 4 in one row, else 3 per row)."""
    from plotly.subplots import make_subplots
    shown = [c for c in corruptions if any((m, c) in results for m in models)]
    cols = max(1, min(cols or (4 if len(shown) <= 4 else 3), len(shown)))  # default: one row up to 4 panels
    rows = max(1, math.ceil(len(shown) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[CORRUPTIONS[c].title for c in shown],
                        shared_yaxes=True, horizontal_spacing=0.04, vertical_spacing=0.55 / rows)
    for k, c in enumerate(shown):
        r, col = k // cols + 1, k % cols + 1
        for i, m in enumerate(models):
            res = results.get((m, c))
            if res is None:
                continue
            color, s = MODEL_COLORS[i % len(MODEL_COLORS)], summarize(res)
            x = np.arange(len(s["mean"]))
            reps = len(res["accuracy"])
            if reps > 1 and s["std"].max() > 0:
                hi, lo = np.clip(s["mean"] + s["std"], 0, 1), np.clip(s["mean"] - s["std"], 0, 1)
                fig.add_trace(go.Scatter(x=np.r_[x, x[::-1]], y=np.r_[hi, lo[::-1]], fill="toself", mode="lines",
                                         line=dict(width=0), fillcolor=_rgba(color, 0.2), hoverinfo="skip",
                                         legendgroup=m, showlegend=False), row=r, col=col)
            labels = [CORRUPTIONS[c].label(v) for v in res["levels"]]
            fig.add_trace(go.Scatter(
                x=x, y=s["mean"], mode="lines+markers", name=m, legendgroup=m, showlegend=k == 0,
                line=dict(color=color, width=2), marker=dict(size=6),
                customdata=np.stack([labels, s["std"], np.full(len(x), reps)], 1),
                hovertemplate=f"{m}<br>{CORRUPTIONS[c].param} %{{customdata[0]}}<br>accuracy %{{y:.1%}} "
                              "± %{customdata[1]:.1%} (%{customdata[2]} repeats)<extra></extra>"), row=r, col=col)
        counts = next(np.asarray(results[(m, c)]["class_counts"]) for m in models if (m, c) in results)
        fig.add_hline(y=counts.max() / max(counts.sum(), 1), line=dict(color="grey", dash="dot", width=1),
                      row=r, col=col)
        levels = next(results[(m, c)]["levels"] for m in models if (m, c) in results)
        fig.update_xaxes(title_text=CORRUPTIONS[c].param, title_font_size=11, row=r, col=col, **_ticks(c, levels))
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title_text="accuracy", col=1)
    fig.update_layout(height=90 + height_per_row * rows, margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(orientation="h", y=1.0 + 40 / (90 + height_per_row * rows), x=0,
                                  yanchor="bottom"), hovermode="closest")
    return fig


def class_heatmap(result: Mapping[str, np.ndarray], corruption: str, classes: Sequence[str]) -> go.Figure:
    """Per-class accuracy (mean over repeats) at each severity: rows = classes, columns = levels."""
    s = summarize(result)
    z = s["class_mean"].T  # (K, S)
    counts = np.asarray(result["class_counts"])
    ylabels = [f"{c} ({n})" for c, n in zip(classes, counts)]
    xlabels = [CORRUPTIONS[corruption].label(v) for v in result["levels"]]
    text = [["—" if not np.isfinite(v) else f"{v:.0%}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=xlabels, y=ylabels, text=text, texttemplate="%{text}", zmin=0, zmax=1,
                               colorscale="RdYlGn", colorbar=dict(title="accuracy", tickformat=".0%"),
                               hovertemplate="%{y}<br>level %{x}<br>accuracy %{z:.1%}<extra></extra>"))
    fig.update_layout(height=80 + 34 * len(classes), margin=dict(l=10, r=10, t=40, b=10),
                      title=f"Per-class accuracy: {CORRUPTIONS[corruption].title}",
                      xaxis=dict(title=CORRUPTIONS[corruption].param, type="category"),
                      yaxis=dict(autorange="reversed", title="class (images)"))
    return fig


def repeats_figure(results: Results, models: Sequence[str], corruption: str, level_index: int) -> go.Figure:
    """Box plot of the accuracy of every repeat at one severity, one box per model (all points shown)."""
    fig = go.Figure()
    level = ""
    for i, m in enumerate(models):
        res = results.get((m, corruption))
        if res is None or level_index >= len(res["levels"]):
            continue
        level = CORRUPTIONS[corruption].label(res["levels"][level_index])
        acc = np.asarray(res["accuracy"])[:, level_index]
        fig.add_trace(go.Box(y=acc, name=m, boxpoints="all", jitter=0.4, pointpos=0,
                             marker=dict(color=MODEL_COLORS[i % len(MODEL_COLORS)]),
                             hovertemplate=f"{m}<br>accuracy %{{y:.2%}}<extra></extra>"))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=60, b=10), showlegend=False,
                      title=f"Accuracy of each repeat<br><sup>{CORRUPTIONS[corruption].title}, "
                            f"{CORRUPTIONS[corruption].param} {level}</sup>",
                      yaxis=dict(title="accuracy", tickformat=".1%"))
    return fig


def summary_figure(results: Results, models: Sequence[str]) -> go.Figure:
    """Mean accuracy over the severities > 0 of each corruption, models side by side, with each
    model's clean accuracy dashed; attacks are drawn too but, as in ImageNet-C, not averaged
    into the mCA of :func:`fer_core.robustness.summary_table`."""
    corr = [c for c in CORRUPTIONS if any((m, c) in results for m in models)]
    fig = go.Figure()
    for i, m in enumerate(models):
        have = [c for c in corr if (m, c) in results]
        if not have:
            continue
        color = MODEL_COLORS[i % len(MODEL_COLORS)]
        y = [float(np.asarray(results[(m, c)]["accuracy"])[:, 1:].mean()) for c in have]
        fig.add_trace(go.Bar(x=[CORRUPTIONS[c].title for c in have], y=y, name=m, marker_color=color,
                             text=[f"{v:.0%}" for v in y], textposition="outside",
                             hovertemplate=f"{m}<br>%{{x}}: mean accuracy %{{y:.1%}} over the severities > 0"
                                           "<extra></extra>"))
        clean = float(np.asarray(results[(m, have[0])]["accuracy"])[:, 0].mean())
        fig.add_hline(y=clean, line=dict(color=color, dash="dash", width=1.5),
                      annotation_text=f"{m} clean {clean:.1%}", annotation_position="top right",
                      annotation_font_color=color)
    fig.update_layout(barmode="group", height=380, margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(range=[0, 1.08], tickformat=".0%", title="mean accuracy over severities"),
                      legend=dict(orientation="h", y=1.08, x=0, yanchor="bottom"))
    return fig
