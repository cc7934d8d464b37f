"""Vega-Lite (Altair) charts of label errors: precision@k of the rankings against FER+.

Why Vega-Lite and not Plotly: in a new browser tab Streamlit's Plotly bundle (4.7 MB of
JavaScript) takes about 1 s before anything else on the page is drawn, against about 0.1 s for
its Vega-Lite bundle (bench/RESULTS.md, "Page render times"). Charts out, nothing drawn.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from fer_core.figures.style import svg


def precision_at_k_chart(table: pd.DataFrame, *, height: int = 280) -> alt.LayerChart:
    """Grouped bars of precision@k per ranking method (rows of `table`, columns 'P@k'), with the
    'base rate' row (a random ranking's precision) as a dashed rule. A k without values (NaN: fewer
    rows than k) is left out; say why beside the chart
    (:func:`fer_core.analysis.label_errors.precision_not_available`)."""
    methods = [m for m in table.index if m != "base rate"]
    table = table.loc[:, table.loc[methods].notna().any()]
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
