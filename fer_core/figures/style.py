"""The one place for the figures' shared style: colours, the SVG renderer, heatmap text.

Every chart module (Vega-Lite and Plotly) and every page takes its colours from here, so a class
keeps its colour across pages.
"""
from __future__ import annotations

import altair as alt
import numpy as np

from fer_core.constants import FER2013_EMOTIONS

#: One colour per FER2013 class (FER2013 index order), used by every chart and the map.
CLASS_COLORS: tuple[str, ...] = ("#d62728", "#8c564b", "#9467bd", "#2ca02c", "#1f77b4", "#ff7f0e", "#7f7f7f")
#: Class name -> colour, FER+ names included (anger, happiness, ... contempt).
CLASS_COLOR_BY_NAME: dict[str, str] = {
    **dict(zip(FER2013_EMOTIONS, CLASS_COLORS)),
    "anger": "#d62728", "happiness": "#2ca02c", "sadness": "#1f77b4", "contempt": "#bcbd22"}
#: Bars: the top (or chosen) class, the others, and the outline of the labelled class.
TOP, OTHER, LABEL_EDGE = "#1f77b4", "#aec7e8", "#d62728"
#: Good / bad / not applicable (correct, wrong, no label).
GOOD, BAD, NONE = "#2ca02c", "#d62728", "#c7c7c7"
#: One colour per FER2013 split (the embedding map's "split" colouring); other split names get NONE.
SPLIT_COLORS: dict[str, str] = {"Training": "#1f77b4", "PublicTest": "#ff7f0e", "PrivateTest": "#2ca02c", "": "#7f7f7f"}
#: Several models on one chart, in the order they are listed.
MODEL_COLORS: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def svg(chart):
    """`chart` drawn as SVG (Streamlit switches charts of many marks to canvas): crisp text, and
    each mark is an element a browser test can find and click. Every chart here goes through it."""
    return chart.properties(usermeta={"embedOptions": {"renderer": "svg"}})


#: Text colour of an annotated heatmap cell: white on cells whose row "dark" is true, else near-black.
CELL_TEXT = alt.condition("datum.dark", alt.value("white"), alt.value("#222"))

#: Colour stops of Vega's sequential schemes used by annotated heatmaps (ColorBrewer, evenly spaced on [0, 1]).
SCHEME_STOPS: dict[str, tuple[str, ...]] = {
    "redyellowgreen": ("#a50026", "#d73027", "#f46d43", "#fdae61", "#fee08b", "#ffffbf", "#d9ef8b", "#a6d96a",
                       "#66bd63", "#1a9850", "#006837"),
}


def dark_cells(values, *, scheme: str = "redyellowgreen", domain: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """(N,) bool: cells of these values, coloured by `scheme` over `domain`, on which white text
    reads better than near-black (WCAG contrast of the cell's colour); the heatmap's "dark" column
    for :data:`CELL_TEXT`. NaN (an empty cell) is never dark.

    Example:
        >>> dark_cells([0.0, 0.5, 1.0]).tolist()  # dark red, pale yellow, dark green
        [True, False, True]
    """
    rgb = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in SCHEME_STOPS[scheme]])
    v = np.asarray(values, dtype=float)
    t = np.clip((v - domain[0]) / (domain[1] - domain[0]), 0, 1)
    stops = np.linspace(0, 1, len(rgb))
    col = np.stack([np.interp(np.nan_to_num(t), stops, rgb[:, k]) for k in range(3)], -1)
    lin = np.where(col <= 0.03928, col / 12.92, ((col + 0.055) / 1.055) ** 2.4)
    lum = lin @ np.array([0.2126, 0.7152, 0.0722])
    return ((1.05 / (lum + 0.05)) > ((lum + 0.05) / 0.05)) & np.isfinite(v)
