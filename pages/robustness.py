"""Robustness: accuracy under noise, blur, JPEG, lighting, occlusion, geometry and attacks, over seeds."""

from dashboard import ui

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.analysis import robustness as rb
from fer_core.figures import robustness as rf
from fer_core.config import RobustnessConfig

DEFAULT_CORRUPTIONS = ["gaussian_noise", "gaussian_blur", "occlusion_eyes", "fgsm"]


@ui.cache_data(show_spinner="Corrupting the example faces...", max_entries=32)
def example_faces(ds, model: str, corruption: str, rows: tuple, cfg: RobustnessConfig) -> dict:
    """The example faces of the detail panel at each severity, with the model's predictions."""
    net, rows = ui.load_model(model), np.asarray(rows)
    return rb.examples(net, ds.images[rows], ds.labels_in(net.label_set)[rows], corruption, keys=rows,
                       seed=cfg.seed, pgd_steps=cfg.pgd_steps)


def cached(cfg: RobustnessConfig, models, corruptions) -> dict:
    """{(model, corruption): sweep} of the sweeps already computed with `cfg`."""
    out = {(m, c): ui.artifact("sweep", ds, corruption=c, config=cfg, model=m) for m in models for c in corruptions}
    return {k: v for k, v in out.items() if v is not None}


st.title("Robustness")
st.caption("Accuracy when the faces are degraded: noise, blur, JPEG, lighting, occlusion of the eyes or mouth, "
           "rotation, low resolution, and adversarial attacks (FGSM, PGD), each over a severity axis and repeated "
           "over seeds. Severity 0 is the clean image.")
ds = ui.current_dataset()
models = ui.require_models()
noisy = [m for m in models if rb.noise_augmented(ui.checkpoint_info(m))]
full, quick = RobustnessConfig(), rb.quick_config(ds)
try:
    n_split = len(rb.select_rows(ds, full)[0])
except ValueError as e:
    st.warning(str(e), icon=":material/warning:")
    st.stop()

c = st.columns([1, 2])
chosen = c[0].multiselect("Models", models, default=list(dict.fromkeys(models[:1] + noisy)), key="rb_models", wrap=True,
                          format_func=lambda m: m + (" (noise-augmented)" if m in noisy else ""))
corrs = c[1].multiselect("Corruptions", list(rb.CORRUPTIONS), default=DEFAULT_CORRUPTIONS, key="rb_corrs", wrap=True,
                         format_func=lambda n: rb.CORRUPTIONS[n].title)
if not noisy:
    st.caption("No shipped model was trained with noise augmentation (the fix the source study proposed). Train one "
               "with `python -m fer_core.train --data fer2013.csv.gz --model compact --noise 0.1 --out "
               "fer_core/models/weights/compact-noise.pt` and it appears here beside the others.")
if not chosen or not corrs:
    st.info("Choose at least one model and one corruption.")
    st.stop()

res, cfg = cached(full, chosen, corrs), full
if quick != full and len(rq := cached(quick, chosen, corrs)) > len(res):
    res, cfg = rq, quick
missing = [(m, k) for m in chosen for k in corrs if (m, k) not in res]
if missing:
    n_quick = len(rb.select_rows(ds, quick)[0])
    st.info(f"{len(missing)} of the {len(chosen) * len(corrs)} chosen sweeps are not computed yet "
            f"({', '.join(f'{m}/{k}' for m, k in missing[:6])}{', ...' if len(missing) > 6 else ''}). Build the full "
            f"ones ({n_split:,} {full.split} images, {full.repeats} repeats) from the repository root:",
            icon=":material/info:")
    st.code("\n".join(rb.command(sorted({k for mm, k in missing if mm == m}), model=m,
                                 data=ui.source_files(ds)[0])
                      for m in dict.fromkeys(m for m, _ in missing)), language="bash")
    slow = " PGD: 10 gradient steps per level, about ten times slower." if any(k == "pgd" for _, k in missing) else ""
    if st.button(f"Run a quick sweep now: {n_quick:,} images x {quick.repeats} repeats.{slow}",
                 icon=":material/play_arrow:", type="primary"):
        bar = st.progress(0.0, text="Starting...")
        for i, (m, k) in enumerate(missing):
            rb.get_sweep(ds, k, quick, model=m, store=ui.store(), progress=lambda f, t, i=i, m=m: bar.progress(
                min(1.0, (i + f) / len(missing)), text=f"{m}: {t}"))
        st.rerun()
    if not res:
        st.stop()

n_imgs = len(next(iter(res.values()))["rows"])
tta = "with flip TTA" if cfg.tta else ("without flip TTA (the Model page averages each face with its mirror, "
                                       "so its accuracy differs)")
st.caption(f"Showing {len(res)} sweep(s) on {n_imgs:,} labeled {cfg.split} images"
           f"{' (a seeded subsample)' if cfg.max_images else ''}, {cfg.repeats} repeats (seeds {cfg.seed}.."
           f"{cfg.seed + cfg.repeats - 1}), {tta}; bands and boxes show the spread over the repeats.")

st.subheader("Summary")
table = rb.summary_table(res)
k = st.columns(len(table) * 2)
for j, (m, row) in enumerate(table.iterrows()):
    k[2 * j].metric(f"{m}: clean accuracy", f"{row['clean accuracy']:.1%}")
    k[2 * j + 1].metric(f"{m}: mean corrupted accuracy", f"{row['mCA']:.1%}" if np.isfinite(row["mCA"]) else "n/a",
                        f"{-100 * row['drop']:+.1f} points" if np.isfinite(row["drop"]) else None,
                        help="mCA: mean accuracy over the chosen corruptions (attacks left out, as in ImageNet-C) "
                             f"and their severities > 0, over {int(row['corruptions'])} corruption(s).")
if len(table) > 1:
    st.caption("mCE (ImageNet-C style, relative to the first model): "
               + ", ".join(f"{m} **{v:.2f}**" for m, v in table["mCE"].items()) + " (below 1 = more robust).")
st.altair_chart(rf.summary_chart(res, chosen), key="rb_summary")

st.subheader("Accuracy against severity")
with st.container(horizontal=True, gap="medium", key="rb_curves"):  # panels wrap to the window's width
    for j, panel in enumerate(rf.severity_panels(res, chosen, corrs)):
        st.altair_chart(panel, width="content", key=f"rb_curve_{j}")
st.caption("Line: mean over the repeats, one colour per model as in the summary chart; band: ± one standard "
           "deviation (none for a deterministic corruption); dotted: the share of the most frequent class.")


@st.fragment
def detail(res: dict, chosen: list, corrs: list, cfg: RobustnessConfig) -> None:
    """One corruption in detail. A fragment: changing its corruption, model or severity reruns only
    this section, not the summary and severity charts above."""
    st.subheader("One corruption in detail")
    have = [k for k in corrs if any((m, k) in res for m in chosen)]
    d = st.columns([1.2, 1, 2])
    corr = d[0].selectbox("Corruption", have, format_func=lambda n: rb.CORRUPTIONS[n].title, key="rb_detail_corr")
    model = d[1].selectbox("Model", [m for m in chosen if (m, corr) in res], key="rb_detail_model")
    r, spec = res[(model, corr)], rb.CORRUPTIONS[corr]
    lv = d[2].select_slider(f"Severity ({spec.param})", options=list(range(len(r["levels"]))),
                            value=min(len(r["levels"]) - 1, 4 if corr == "gaussian_noise" else 2),
                            format_func=lambda i: spec.label(r["levels"][i]), key=f"rb_lv_{corr}")
    left, right = st.columns([1.3, 1])
    net = ui.load_model(model)
    classes, y_all = list(net.classes), ds.labels_in(net.label_set)
    left.altair_chart(rf.class_heatmap(r, corr, classes), key="rb_heat")
    right.altair_chart(rf.repeats_chart(res, chosen, corr, lv), key="rb_box")
    if not spec.random:
        right.caption("A deterministic corruption: every repeat gives the same accuracy.")

    st.markdown(f"**Example faces at each severity** ({model}; repeat 1; caption: prediction and confidence, "
                "red when wrong)")
    pick = pd.Series(r["rows"]).groupby(y_all[r["rows"]]).first().to_numpy()[:8]  # first face of each class
    ex = example_faces(ds, model, corr, tuple(int(i) for i in pick), cfg)
    y = y_all[pick]
    imgs = ex["images"].transpose(1, 0, 2, 3).reshape(-1, 48, 48)  # one row per face, one column per level
    preds, conf = ex["preds"].T.ravel(), ex["confidence"].T.ravel()
    ok = preds == np.repeat(y, len(r["levels"]))
    ui.show_grid(imgs, cols=len(r["levels"]), scale=2, captions=[f"{classes[p]} {c:.0%}" for p, c in zip(preds, conf)],
                 caption_colors=[ui.OK_RGB if o else ui.BAD_RGB for o in ok], font_size=10)
    st.caption("Columns: " + " · ".join(spec.label(v) for v in r["levels"]) + f" ({spec.param}). One face per class.")


detail(res, chosen, corrs, cfg)
