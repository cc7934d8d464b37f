"""Vega-Lite (Altair) charts of one face: its predicted probabilities and its FER+ votes as bars.

Why Vega-Lite and not Plotly: in a new browser tab Streamlit's Plotly bundle (4.7 MB of
JavaScript) takes about 1 s before anything else on the page is drawn, against about 0.1 s for
its Vega-Lite bundle (bench/RESULTS.md, "Page render times"). Charts out, nothing drawn.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from fer_core.figures.style import LABEL_EDGE, OTHER, TOP, svg


def _hbars(names: list[str], values, *, highlight: int, outlined: int, fmt: str, title: str, step: int,
           domain: list[float] | None = None, text: list[str] | None = None) -> alt.LayerChart:
    """Horizontal bars in the given order, `step` pixels each: bar `highlight` dark, bar `outlined`
    edged in red."""
    df = pd.DataFrame({"name": names, "value": np.asarray(values, dtype=float),
                       "fill": [TOP if j == highlight else OTHER for j in range(len(names))],
                       "edge": [LABEL_EDGE if j == outlined else "transparent" for j in range(len(names))],
                       "text": text if text is not None else [""] * len(names)})
    # A value is written beside its bar's end, or inside it (white) when the bar reaches near the
    # axis's end: the axis then ends at the domain's top (100% for probabilities), no room kept for text.
    df["inside"] = df["value"] > 0.8 * (domain[1] if domain else df["value"].max())
    base = alt.Chart(df).encode(
        y=alt.Y("name:N", sort=names, title=None,
                axis=alt.Axis(labelLimit=220, labelOverlap=False, labelFlush=False, labelFontSize=11)),  # every name, evenly
        x=alt.X("value:Q", title=None, axis=alt.Axis(format=fmt),
                scale=alt.Scale(domain=domain, nice=False) if domain else alt.Undefined),
        tooltip=[alt.Tooltip("name:N", title=" "), alt.Tooltip("value:Q", format=fmt, title=title.split(" (")[0])])
    bars = base.mark_bar(strokeWidth=2).encode(fill=alt.Fill("fill:N", scale=None),
                                                stroke=alt.Stroke("edge:N", scale=None))
    if text is None:
        return svg(bars.properties(title=title, height=alt.Step(step)))
    outside_text = base.transform_filter("!datum.inside").mark_text(align="left", dx=3).encode(text="text:N")
    inside_text = base.transform_filter("datum.inside").mark_text(align="right", dx=-3, color="white").encode(
        text="text:N")
    return svg((bars + outside_text + inside_text).properties(title=title, height=alt.Step(step)))

def class_probs_chart(probs, classes, *, label: int = -1, step: int = 20) -> alt.LayerChart:
    """One image's predicted probabilities, top class dark, the given label's bar outlined in red
    and named "(label)"."""
    p = np.asarray(probs, dtype=float)
    names = [f"{c} (label)" if j == label else str(c) for j, c in enumerate(classes)]
    return _hbars(names, p, highlight=int(p.argmax()), outlined=label, fmt=".0%", title="Predicted probabilities",
                  step=step, domain=[0, 1], text=[f"{v:.0%}" for v in p])

def votes_chart(votes, names, *, majority: int, label_column: int = -1, step: int = 17) -> alt.Chart:
    """One image's FER+ votes (`names`: the vote columns), the majority bar dark; `label_column`
    (the FER+ column of the FER2013 label, or -1) outlined and named "(FER2013)"."""
    names = [f"{n} (FER2013)" if j == label_column else str(n) for j, n in enumerate(names)]
    return _hbars(names, votes, highlight=majority, outlined=label_column, fmt="d",
                  title="FER+ votes (10 annotators)", step=step)


#: name of the click selection of :func:`face_grid_chart` (the page reads event.selection[FACE_PICK])
FACE_PICK = "face"


def face_grid_chart(uris: list[str], ids, captions: list[str], *, cols: int = 8, size: int = 72,
                    selected: int | None = None, caption_colors: list[str] | None = None) -> alt.LayerChart:
    """A grid of faces in which each face is clickable: a click selects its id (Vega-Lite point
    selection :data:`FACE_PICK` on the field "id"; Streamlit returns it with ``on_select``).

    Args:
        uris: one image URL per face (``fer_core.data.images.png_data_uri``).
        ids: (M,) ints the selection returns (dataset indices).
        captions: one line under each face (also its tooltip).
        cols: faces per row; size: face width and height in pixels.
        selected: the id drawn with a frame (the face whose card is open), or None.
        caption_colors: CSS colour per caption (default dark grey).
    """
    ids = [int(i) for i in ids]
    k = np.arange(len(ids))
    df = pd.DataFrame({"id": ids, "col": k % cols, "row": k // cols, "url": uris, "caption": captions,
                       "color": caption_colors or ["#333333"] * len(ids),
                       "frame": [2.5 if i == selected else 0.0 for i in ids]})
    rows = int(k[-1] // cols + 1) if len(ids) else 1
    pick = alt.selection_point(name=FACE_PICK, fields=["id"], on="click", empty=False)
    # a face fills its column up to its row's height (the chart is as wide as the page makes it)
    side = "min(bandwidth('x'), bandwidth('y') - 24)"
    cell = {"expr": side}
    base = alt.Chart(df).encode(
        x=alt.X("col:O", axis=None, scale=alt.Scale(type="band", domain=list(range(cols)), paddingInner=0.08,
                                                    paddingOuter=0)),
        y=alt.Y("row:O", axis=None, scale=alt.Scale(type="band", domain=list(range(rows)), paddingInner=0,
                                                    paddingOuter=0)),
        tooltip=[alt.Tooltip("caption:N", title="face"), alt.Tooltip("id:N", title="index")])
    faces = base.mark_image(width=cell, height=cell, cursor="pointer", yOffset={"expr": "-10"}).encode(
        url="url:N").add_params(pick)
    frames = base.mark_rect(filled=False, color="#e4572e", width=cell, height=cell, yOffset={"expr": "-10"},
                            xOffset=0).encode(strokeWidth=alt.StrokeWidth("frame:Q", scale=None))
    text = base.mark_text(baseline="top", fontSize=11, dy={"expr": f"{side} / 2 - 8"},
                          limit={"expr": "bandwidth('x')"}).encode(text="caption:N",
                                                                      color=alt.Color("color:N", scale=None))
    return (faces + frames + text).properties(width=cols * (size + 8), height=rows * (size + 26)).configure_view(
        stroke=None)
