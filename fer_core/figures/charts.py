"""Vega-Lite (Altair) charts for what a page shows first: the confusion matrix, per-class scores,
one image's predicted probabilities and FER+ votes.

Why not Plotly, which draws every other chart: in a new browser tab, Streamlit's Plotly bundle
(4.7 MB of JavaScript) takes about 1 s to evaluate before anything else on the page is drawn,
against about 0.1 s for its Vega-Lite bundle (bench/RESULTS.md, "Page render times"). Charts a
page draws before the user does anything are built here; charts behind a tab, an expander or a
click stay Plotly (`figures.embeddings`). Charts out, nothing drawn; Altair ships with Streamlit.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from fer_core.figures.style import CELL_TEXT, LABEL_EDGE, OTHER, TOP, svg



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
        x=alt.X("predicted:N", sort=order, title="predicted", axis=alt.Axis(orient="top", labelAngle=0)),
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


def _hbars(names: list[str], values, *, highlight: int, outlined: int, fmt: str, title: str, step: int,
           domain: list[float] | None = None, text: list[str] | None = None) -> alt.LayerChart:
    """Horizontal bars in the given order, `step` pixels each: bar `highlight` dark, bar `outlined`
    edged in red."""
    df = pd.DataFrame({"name": names, "value": np.asarray(values, dtype=float),
                       "fill": [TOP if j == highlight else OTHER for j in range(len(names))],
                       "edge": [LABEL_EDGE if j == outlined else "transparent" for j in range(len(names))],
                       "text": text if text is not None else [""] * len(names)})
    base = alt.Chart(df).encode(
        y=alt.Y("name:N", sort=names, title=None,
                axis=alt.Axis(labelLimit=220, labelOverlap=False, labelFlush=False, labelFontSize=11)),  # every name, evenly
        x=alt.X("value:Q", title=None, axis=alt.Axis(format=fmt),
                scale=alt.Scale(domain=domain) if domain else alt.Undefined),
        tooltip=[alt.Tooltip("name:N", title=" "), alt.Tooltip("value:Q", format=fmt, title=title.split(" (")[0])])
    bars = base.mark_bar(strokeWidth=2).encode(fill=alt.Fill("fill:N", scale=None),
                                                stroke=alt.Stroke("edge:N", scale=None))
    layers = bars + base.mark_text(align="left", dx=3).encode(text="text:N") if text is not None else bars
    return svg(layers.properties(title=title, height=alt.Step(step)))


def class_probs_chart(probs, classes, *, label: int = -1, step: int = 20) -> alt.LayerChart:
    """One image's predicted probabilities, top class dark, the given label's bar outlined in red
    and named "(label)"."""
    p = np.asarray(probs, dtype=float)
    names = [f"{c} (label)" if j == label else str(c) for j, c in enumerate(classes)]
    return _hbars(names, p, highlight=int(p.argmax()), outlined=label, fmt=".0%", title="Predicted probabilities",
                  step=step, domain=[0, 1.15], text=[f"{v:.0%}" for v in p])


def votes_chart(votes, names, *, majority: int, label_column: int = -1, step: int = 17) -> alt.Chart:
    """One image's FER+ votes (`names`: the vote columns), the majority bar dark; `label_column`
    (the FER+ column of the FER2013 label, or -1) outlined and named "(FER2013)"."""
    names = [f"{n} (FER2013)" if j == label_column else str(n) for j, n in enumerate(names)]
    return _hbars(names, votes, highlight=majority, outlined=label_column, fmt="d",
                  title="FER+ votes (10 annotators)", step=step)


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


def randomization_chart(result: dict, names: dict | None = None, flagged: dict | None = None, *,
                        height: int = 320) -> alt.LayerChart:
    """Sanity check of saliency methods (Adebayo et al. 2018): mean Spearman rank correlation
    between each method's map on the trained model and on the model with its layers randomized
    cumulatively from the top (x axis), the per-image spread as a band (25-75th percentile); a
    flagged method (its map does not depend on the weights) dashed and marked ⚠."""
    layers = [str(x) for x in result["layers"]]
    rows = []
    for i, m in enumerate(result["methods"]):
        m = str(m)
        rho = np.asarray(result["rho"][i])
        lo, hi = np.percentile(rho, 25, axis=1), np.percentile(rho, 75, axis=1)
        label = (names or {}).get(m, m) + (" ⚠" if (flagged or {}).get(m) else "")
        rows += [{"method": label, "layer": layer, "rho": float(result["rho_mean"][i][j]), "lo": float(lo[j]),
                  "hi": float(hi[j]), "flagged": bool((flagged or {}).get(m))} for j, layer in enumerate(layers)]
    df = pd.DataFrame(rows)
    methods = list(dict.fromkeys(df["method"]))
    color = alt.Color("method:N", sort=methods, legend=alt.Legend(orient="top", title=None))
    x = alt.X("layer:N", sort=layers, title="layers randomized so far (from the top)", axis=alt.Axis(labelAngle=-30))
    y = alt.Scale(domain=[-0.2, 1.05])
    base = alt.Chart(df).encode(x=x, color=color)
    lines = base.mark_line(point=True).encode(
        y=alt.Y("rho:Q", scale=y, title="Spearman ρ (mean over images)"),
        strokeDash=alt.condition("datum.flagged", alt.value([6, 3]), alt.value([1, 0])),
        tooltip=["method:N", "layer:N", alt.Tooltip("rho:Q", format=".2f", title="ρ")])
    # the lines first: the shared legend is taken from them (the bands' faint fill would make pale swatches)
    layer = lines + base.mark_area(opacity=0.12).encode(y=alt.Y("lo:Q", scale=y), y2="hi:Q",
                                                        color=alt.Color("method:N", sort=methods, legend=None))
    return svg(layer.properties(height=height, title="Cascading randomization: map similarity to the trained model"))


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


def precision_at_k_chart(table: pd.DataFrame, *, height: int = 280) -> alt.LayerChart:
    """Grouped bars of precision@k per ranking method (rows of `table`, columns 'P@k'), with the
    'base rate' row (a random ranking's precision) as a dashed rule."""
    methods = [m for m in table.index if m != "base rate"]
    cols = [str(c) for c in table.columns]
    df = (table.loc[methods].rename_axis("method").reset_index().melt(id_vars="method", var_name="k", value_name="p"))
    df["k"], df["text"] = df["k"].astype(str), [f"{v:.2f}" for v in df["p"]]
    base = alt.Chart(df).encode(x=alt.X("method:N", sort=methods, title=None, axis=alt.Axis(labelAngle=0)),
                                xOffset=alt.XOffset("k:N", sort=cols),
                                y=alt.Y("p:Q", title="precision", scale=alt.Scale(domain=[0, 1.1])))
    layer = (base.mark_bar().encode(color=alt.Color("k:N", sort=cols, legend=alt.Legend(orient="top", title=None)),
                                    tooltip=["method:N", "k:N", alt.Tooltip("p:Q", format=".3f")])
             + base.mark_text(dy=-6, fontSize=10).encode(text="text:N"))
    title = ""
    if "base rate" in table.index:  # named in the title: a label on the rule would sit on the bars
        b = float(table.loc["base rate"].iloc[0])
        title = f"dashed: base rate {b:.2f} (a random ranking's precision)"
        layer += alt.Chart(pd.DataFrame({"p": [b]})).mark_rule(strokeDash=[5, 4], color="#444").encode(y="p:Q")
    return svg(layer.properties(height=height, title=title))
