"""Vega-Lite (Altair) charts of saliency: the cascading-randomization sanity check.

Why Vega-Lite and not Plotly: in a new browser tab Streamlit's Plotly bundle (4.7 MB of
JavaScript) takes about 1 s before anything else on the page is drawn, against about 0.1 s for
its Vega-Lite bundle (bench/RESULTS.md, "Page render times"). Charts out, nothing drawn.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from fer_core.figures.style import svg


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
