"""Plotly figures of the embeddings: the WebGL map (lasso, 3-D) and the neighbour-confusion heatmap.

Figures out, nothing drawn (like Captum's use_pyplot=False). What a page draws first is Vega-Lite
instead (the other figures modules): it loads ~1 s faster in a new tab."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def embedding_figure(coords, rows, colors: dict, *, hover=None, title: str = "", height: int = 800,
                     marker_size: float | None = None, sample=None, density_bins: int = 256) -> go.Figure:
    """WebGL scatter of a 2-D or 3-D map, one trace per colour group, rows in ``customdata``.

    Args:
        coords: (N, 2) or (N, 3) coordinates of every point of the map.
        rows: (N,) int dataset row of each point; stored as each point's customdata, so a click or
            lasso maps back with :func:`fer_core.analysis.embed.selection_to_rows` whatever the trace.
        colors: :func:`fer_core.analysis.embed.point_colors` output for the N points (categorical groups
            become traces with a legend; continuous values one trace with a colour bar).
        hover: hover line per point (optional): (N,) str, or (len(sample),) for the drawn points
            only (:func:`fer_core.analysis.embed.hover_texts` with ``rows=sample``).
        sample: (M,) int positions in 0..N-1 to draw (:func:`fer_core.analysis.embed.display_sample`), or
            None to draw all N. When M < N the figure says so, and a 2-D map gets, under the
            scatter, a greyscale density image of ALL N points (log counts on a grid of about
            `density_bins` square cells across its longer side, over the first view; no hover,
            not selectable), so the regions the sample thins out still show. Box and lasso
            selections on it must be resolved against every point on the server
            (:func:`fer_core.analysis.embed.selection_rows`), not through the drawn points.
    """
    xy = np.asarray(coords, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int32)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3) or len(xy) != len(rows):
        raise ValueError(f"coords must be (N, 2|3) with N = len(rows) = {len(rows)}, got {xy.shape}")
    three = xy.shape[1] == 3
    n_all = len(xy)
    drawn = np.arange(n_all) if sample is None else np.asarray(sample, dtype=np.int64)
    if drawn.ndim != 1 or (len(drawn) and (drawn.min() < 0 or drawn.max() >= n_all)):
        raise ValueError(f"sample must be (M,) positions in [0, {n_all}), got shape {drawn.shape}")
    sampled = len(drawn) < n_all
    hover = None if hover is None else np.asarray(hover)
    if hover is not None and len(hover) != len(drawn):
        if len(hover) != n_all:
            raise ValueError(f"hover must have {n_all} or {len(drawn)} items, got {len(hover)}")
        hover = hover[drawn]
    n = len(drawn)
    size = marker_size or (2 if three else 3 if n > 20000 else 4 if n > 5000 else 6)
    pts, prow = xy[drawn], rows[drawn]

    def trace(m, name, marker, showlegend=True):
        kw = dict(mode="markers", name=name, customdata=prow[m], marker=marker, showlegend=showlegend,
                  hovertemplate="%{text}<extra></extra>" if hover is not None else "row %{customdata}<extra></extra>")
        if hover is not None:
            kw["text"] = hover[m]
        if three:
            return go.Scatter3d(x=pts[m, 0], y=pts[m, 1], z=pts[m, 2], **kw)
        return go.Scattergl(x=pts[m, 0], y=pts[m, 1], selected=dict(marker=dict(size=size + 4)),
                            unselected=dict(marker=dict(opacity=0.3)), **kw)

    traces = []
    if not three:
        # the first view frames 99.8% of the points: a few far outliers would otherwise squeeze the
        # map into a corner (zoom out or double-click to see them)
        lo, hi = np.quantile(xy, [0.001, 0.999], axis=0) if n_all >= 500 else (xy.min(0), xy.max(0))
        pad = 0.04 * np.maximum(hi - lo, 1e-6)
        lo, hi = lo - pad, hi + pad
        if sampled:  # first trace: drawn under the points
            traces.append(density_trace(xy, lo, hi, bins=density_bins))
    if colors["kind"] == "categorical":
        codes_all = np.asarray(colors["codes"])
        codes, total = codes_all[drawn], np.bincount(codes_all, minlength=len(colors["names"]))
        for c, (name, col) in enumerate(zip(colors["names"], colors["colors"])):
            m = np.flatnonzero(codes == c)
            if len(m):
                label = f"{name} ({total[c]:,}; {len(m):,} drawn)" if sampled else f"{name} ({len(m):,})"
                traces.append(trace(m, label, dict(color=col, size=size, opacity=0.75)))
    else:
        v = np.asarray(colors["values"], dtype=np.float32)[drawn]
        traces.append(trace(np.arange(n), colors.get("title", "value"), dict(
            color=v, size=size, opacity=0.8, colorscale="Viridis", showscale=True,
            colorbar=dict(title=colors.get("title", ""), thickness=12)), showlegend=False))
    fig = go.Figure(traces)
    axis = dict(showticklabels=False, title="", zeroline=False, showgrid=False)
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=40 if title or sampled else 30, b=0), title=title,
                      legend=dict(orientation="h", x=0, y=0, yanchor="top", itemsizing="constant"),
                      uirevision="embedding", plot_bgcolor="white", hovermode="closest")
    if sampled:
        note = f"showing {n:,} of {n_all:,} points (stratified sample)"
        fig.add_annotation(text=note + ("" if three else "; shading: all points"), xref="paper", yref="paper",
                           x=0, y=1, xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=12))
    if three:
        fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis))
    else:
        # dragmode and clickmode are left to Streamlit: pan + click-to-select, and box/lasso from the
        # chart's toolbar (Streamlit turns click-to-select off while box or lasso is the drag mode).
        fig.update_layout(xaxis=dict(axis, range=[float(lo[0]), float(hi[0])]),
                          yaxis=dict(axis, range=[float(lo[1]), float(hi[1])], scaleanchor="x", scaleratio=1))
    return fig


def density_trace(coords2d, lo, hi, *, bins: int = 256, name: str = "all points") -> go.Heatmap:
    """Greyscale image of how many points fall in each square cell of the box [lo, hi].

    Counts are log-scaled (log1p) and quantised to 0..255 (uint8: a 256x256 image is about
    90 kB of JSON); empty cells are transparent. No hover, no legend, and heatmaps are not
    selectable in Plotly, so clicks, boxes and lassos still reach the scatter drawn over it.

    Args:
        coords2d: (N, 2) coordinates of every point (those outside [lo, hi] are not counted).
        lo, hi: (2,) lower-left and upper-right corners of the imaged box.
        bins: cells across the box's longer side (cells are square).
    """
    xy = np.asarray(coords2d)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    span = np.maximum(hi - lo, 1e-9)
    cell = span.max() / max(int(bins), 1)
    nx, ny = (int(v) for v in np.maximum(np.ceil(span / cell), 1))
    counts, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=(nx, ny),
                                  range=[[lo[0], lo[0] + nx * cell], [lo[1], lo[1] + ny * cell]])
    z = np.log1p(counts.T)  # (ny, nx): rows are y
    z = np.round(255 * z / max(float(z.max()), 1e-12)).astype(np.uint8)
    return go.Heatmap(z=z, x0=float(lo[0] + cell / 2), dx=float(cell), y0=float(lo[1] + cell / 2), dy=float(cell),
                      zmin=0, zmax=255, colorscale=[[0, "rgba(60,60,60,0)"], [1 / 255, "rgba(60,60,60,0.08)"],
                                                    [1, "rgba(60,60,60,0.55)"]],
                      showscale=False, hoverinfo="skip", showlegend=False, name=name, zsmooth=False)


def neighbour_confusion_figure(confusion, classes, *, title: str = "") -> go.Figure:
    """Heatmap of how nearest neighbours are labeled: row = class of the image, column = label
    of its neighbours (rows sum to 1; the diagonal is the kNN label agreement)."""
    z = np.asarray(confusion, dtype=float)
    text = [[f"{v:.0%}" if np.isfinite(v) else "" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=list(classes), y=list(classes), text=text, texttemplate="%{text}",
                               colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title="share", thickness=12),
                               hovertemplate="%{y} images: %{text} of their neighbours are %{x}<extra></extra>"))
    fig.update_layout(height=110 + 40 * len(classes), margin=dict(l=10, r=10, t=90 if title else 60, b=10),
                      title=dict(text=title, y=0.98, yanchor="top"), xaxis=dict(title="neighbour's label", side="top"),
                      yaxis=dict(title="image's label", autorange="reversed"))
    return fig
