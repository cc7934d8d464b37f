"""Figures layer: charts out, nothing drawn (Vega-Lite via Altair, Plotly for the map), one module
per subject, the shared style in `style`.

Imports every layer below it.
"""
