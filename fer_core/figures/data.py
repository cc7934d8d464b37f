"""Vega-Lite (Altair) charts of the data: counts per split and class, FER+ crosstab, pixel
statistics, the eigenfaces' explained variance.

Why Vega-Lite and not Plotly: in a new browser tab Streamlit's Plotly bundle (4.7 MB of
JavaScript) takes about 1 s before anything else on the page is drawn, against about 0.1 s for
its Vega-Lite bundle (bench/RESULTS.md, "Page render times"). Charts out, nothing drawn.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from fer_core.figures.style import CELL_TEXT, svg


def split_counts_chart(counts: pd.DataFrame, *, height: int = 300, share: bool = False) -> alt.Chart:
    """Images per class (rows of `counts`) and split (its columns; a "total" column is left out),
    bars grouped by class; with `share`, each split's bars are its share of that split."""
    splits = [c for c in counts.columns if c != "total"]
    df = (counts[splits].rename_axis("class").reset_index()
          .melt(id_vars="class", var_name="split", value_name="images"))
    df["share"] = df["images"] / df.groupby("split")["images"].transform("sum").clip(lower=1)
    y = (alt.Y("share:Q", title="share of split", axis=alt.Axis(format=".0%")) if share
         else alt.Y("images:Q", title="images"))
    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X("class:N", sort=list(counts.index), title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("split:N", sort=splits), y=y,
        color=alt.Color("split:N", sort=splits, legend=alt.Legend(orient="top", title=None)),
        tooltip=["split:N", "class:N", alt.Tooltip("images:Q", format=","), alt.Tooltip("share:Q", format=".1%")])
    return svg(chart.properties(height=height))

def crosstab_chart(table: pd.DataFrame, *, row_title: str, col_title: str, height: int = 300) -> alt.LayerChart:
    """Counts of a cross-tabulation (rows x columns of `table`) as cells shaded by their share of
    the row, each cell showing its count."""
    share = table.div(table.sum(axis=1).clip(lower=1), axis=0)
    df = pd.DataFrame([{"row": str(r), "col": str(c), "count": int(table.loc[r, c]), "share": float(share.loc[r, c])}
                       for r in table.index for c in table.columns])
    df["dark"] = df["share"] > 0.55
    base = alt.Chart(df).encode(
        x=alt.X("col:N", sort=[str(c) for c in table.columns], title=col_title, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("row:N", sort=[str(r) for r in table.index], title=row_title))
    layer = (base.mark_rect().encode(
                 color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                                 legend=alt.Legend(format=".0%", title="row share")),
                 tooltip=[alt.Tooltip("row:N", title=row_title), alt.Tooltip("col:N", title=col_title),
                          alt.Tooltip("count:Q", format=",", title="images"), alt.Tooltip("share:Q", format=".1%")])
             + base.mark_text(fontSize=11).encode(
                 text=alt.Text("count:Q", format=","),
                 color=CELL_TEXT))
    return svg(layer.properties(height=height))

def box_chart(stats: pd.DataFrame, names, colors, *, title: str, height: int = 300) -> alt.LayerChart:
    """Box plots drawn from precomputed Tukey numbers (`stats`: one row per box with q1, median,
    q3, lowerfence, upperfence, mean, n, as :func:`fer_core.data.images.box_stats` gives), one box per
    name in its colour; whiskers to the fences, a tick at the median, a dot at the mean."""
    df = stats[["q1", "median", "q3", "lowerfence", "upperfence", "mean", "n"]].copy()
    df["name"], df["fill"] = [str(n) for n in names], list(colors)
    x = alt.X("name:N", sort=list(df["name"]), title=None, axis=alt.Axis(labelAngle=0))
    base = alt.Chart(df).encode(x=x)
    tip = ["name:N", alt.Tooltip("n:Q", format=","), alt.Tooltip("median:Q", format=".1f"),
           alt.Tooltip("q1:Q", format=".1f"), alt.Tooltip("q3:Q", format=".1f"), alt.Tooltip("mean:Q", format=".1f")]
    layer = (base.mark_rule(color="#555").encode(y=alt.Y("lowerfence:Q", title=None, scale=alt.Scale(zero=False)),
                                                 y2="upperfence:Q")
             + base.mark_bar(size=28, opacity=0.8).encode(y="q1:Q", y2="q3:Q", fill=alt.Fill("fill:N", scale=None),
                                                          tooltip=tip)
             + base.mark_tick(color="white", size=28, thickness=2).encode(y="median:Q")
             + base.mark_point(color="#222", size=25, filled=True).encode(y="mean:Q", tooltip=tip))
    return svg(layer.properties(title=title, height=height))

def lines_chart(x, series: dict[str, np.ndarray], colors, *, title: str, x_title: str, y_format: str = ".1%",
                height: int = 300) -> alt.Chart:
    """One line per named series over the shared `x` values, in the given colours."""
    rows = [{"x": float(xv), "series": name, "y": float(yv)} for name, ys in series.items() for xv, yv in zip(x, ys)]
    names = list(series)
    return svg(alt.Chart(pd.DataFrame(rows)).mark_line().encode(
        x=alt.X("x:Q", title=x_title), y=alt.Y("y:Q", title=None, axis=alt.Axis(format=y_format)),
        color=alt.Color("series:N", sort=names, scale=alt.Scale(domain=names, range=list(colors)),
                        legend=alt.Legend(orient="top", title=None)),
        tooltip=["series:N", alt.Tooltip("x:Q", format=".0f", title=x_title), alt.Tooltip("y:Q", format=y_format)]
    ).properties(title=title, height=height))

def explained_variance_chart(curves: dict[str, np.ndarray], *, target: float = 0.9, k_target: int | None = None,
                             height: int = 300) -> alt.LayerChart:
    """Cumulative explained variance against the number of components, one line per fit
    (`curves`: name -> (K,) explained-variance ratios), the `target` level dotted and, when
    `k_target` is given, the number of components that reaches it marked and labelled."""
    rows = [{"fit": name, "components": j + 1, "cumulative": float(v)}
            for name, evr in curves.items() for j, v in enumerate(np.cumsum(evr))]
    x = alt.X("components:Q", title="number of components")
    y = alt.Y("cumulative:Q", title="cumulative explained variance", axis=alt.Axis(format=".0%"),
              scale=alt.Scale(domain=[0, 1]))
    layer = alt.Chart(pd.DataFrame(rows)).mark_line().encode(
        x=x, y=y, color=alt.Color("fit:N", sort=list(curves), legend=alt.Legend(orient="top", title=None)),
        tooltip=["fit:N", "components:Q", alt.Tooltip("cumulative:Q", format=".1%")])
    layer += alt.Chart(pd.DataFrame({"cumulative": [target]})).mark_rule(strokeDash=[2, 3], color="grey").encode(y=y)
    if k_target:
        mark = pd.DataFrame({"components": [k_target], "cumulative": [target],
                             "text": [f"{k_target} components reach {target:.0%}"]})
        layer += (alt.Chart(mark).mark_rule(strokeDash=[2, 3], color="grey").encode(x=x)
                  + alt.Chart(mark).mark_text(align="left", dx=8, dy=24, fontWeight="bold").encode(x=x, y=y, text="text:N"))
    return svg(layer.properties(height=height))
