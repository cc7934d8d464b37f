"""The one place for the figures' shared style: colours, the SVG renderer, heatmap text.

Every chart module (Vega-Lite and Plotly) and every page takes its colours from here, so a class
keeps its colour across pages.
"""
from __future__ import annotations

import altair as alt

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
