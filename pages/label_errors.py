"""Label errors: ranked galleries of likely mislabeled images, non-faces and duplicates; flag, undo, export."""

from dashboard import ui
from dashboard.panels import label_errors as panels

import numpy as np
import streamlit as st

from fer_core.analysis import label_errors as le
from fer_core.constants import FER2013_EMOTIONS
from fer_core.figures import label_errors as le_figs

AUTO_IMAGES = 2000  # rankings of datasets up to this size are computed without asking (seconds)

st.title("Label errors")
ds = ui.current_dataset()
models = ui.require_models()
model = st.sidebar.selectbox("Model", models, key="le_model")
if len(np.unique(ds.labels[ds.labels >= 0])) < 2:
    st.info("This dataset has no FER2013 labels to check (an unlabeled image folder?).")
    st.stop()
built = ui.artifact_cached("label_errors", ds, model=model)
if not built and len(ds) > AUTO_IMAGES:
    st.info(f"The rankings of these {len(ds):,} images are not computed yet (about 3 min on a 2-core CPU, "
            f"once). Run `{le.command(ds.source, model)}` (or `python -m fer_core.prepare`), or:")
    if not st.button("Compute the rankings now", type="primary"):
        st.stop()
if not built:
    ui.run_with_progress("Ranking likely label errors...", ui.compute_artifact, name="label_errors", ds=ds, model=model)
res = ui.artifact("label_errors", ds, model=model)
flags = ui.flag_store()
if flags.adopt(ds.data_hash, ds.previous_hashes):  # decisions recorded under this data's earlier hash
    st.toast("Earlier decisions on this data were carried over to its new data hash.")
latest = flags.latest(ds.data_hash).set_index("row")
counts = flags.counts(ds.data_hash)
review = panels.Review(ds, res, flags, latest)

c = st.columns(4)
c[0].metric("Probabilities", str(res["mode"]), help=le.MODE_HELP[str(res["mode"])])
c[1].metric("Reviewed", f"{counts['reviewed']:,}")
c[2].metric("Flagged", f"{counts['flagged']:,}", help="latest decision is not 'not an error'")
if c[3].button("Undo last decision", icon=":material/undo:", disabled=counts["reviewed"] == 0):
    gone = flags.undo(data_hash=ds.data_hash)
    st.toast(f"Undid '{gone['decision']}' on row {gone['row']}" if gone else "Nothing to undo")
    st.rerun()
if ds.ferplus is not None:
    # Lazy: computed, sent and drawn only while open.
    pak = st.expander("How good are the rankings? Precision@k against FER+ (validation only, never an input)",
                      key="le_pak_open", on_change="rerun")
    if pak.open:
        with pak:
            v = le.validate_rankings(ds, res)  # the command's table: a k above the rows there are is n/a
            found, total = le.nonfaces_in_top(ds, res, k=min(500, len(ds) // 10))
            st.altair_chart(le_figs.precision_at_k_chart(v), key="le_pak")
            st.caption(f"Error = the FER2013 label differs from the FER+ plurality label. The base rate is a "
                       f"random ranking's precision. Non-face ranking: {found} of the {total} FER+ non-faces are "
                       f"among the {min(500, len(ds) // 10)} least face-like images."
                       + "".join(f" {c} {why}." for c, why in le.precision_not_available(ds, v).items()))


def mislabeled_tab() -> None:
    f = st.columns([1.3, 1.4, 1.4, 1.2, 1])
    method = f[0].selectbox("Ranking", le.METHODS, key="le_method", help="\n".join(
        f"- **{m}**: {t}" for m, t in le.METHOD_HELP.items()))
    given = f[1].multiselect("Given label", FER2013_EMOTIONS, key="le_given")
    sugg = f[2].multiselect("Suggested label", FER2013_EMOTIONS, key="le_sugg")
    splits = f[3].multiselect("Split", sorted(set(ds.split) - {""}), key="le_split")
    hide = f[4].toggle("Hide reviewed", key="le_hide")
    t = le.ranking_table(ds, res, method=method)
    lo, hi = float(t["score"].min()), float(t["score"].max())
    smin = st.slider("Minimum score (higher = more likely mislabeled)", lo, hi, lo, key="le_smin") if hi > lo else lo
    keep = t["score"] >= smin
    for col, chosen in (("given_label", given), ("suggested_label", sugg), ("split", splits)):
        if chosen:
            keep &= t[col].isin(chosen)
    if hide:
        keep &= ~t["row"].isin(latest.index)
    t = t[keep]
    top = st.number_input("Review the top N of this ranking", 1, max(1, len(t)), min(100, max(1, len(t))),
                          key="le_top_n", help="makes them the current selection (sidebar) and opens Review")
    if st.button(f"Review the top {int(top):,}", icon=":material/rate_review:", disabled=not len(t)):
        ui.set_selection(ds, t["index"].to_numpy()[:int(top)], f"top {int(top)} label errors ({method})")
        try:
            st.switch_page(ui.PAGES_DIR / "review.py")
        except Exception:  # page run on its own (no navigation)
            st.info("Open the Review page: these images are the current selection.")
    st.caption(f"{len(t):,} images, most suspicious first. Click a face to review it; a decision moves on to "
               "the next unreviewed face. Reviewed faces are marked " + ", ".join(
                   f"{m.strip()} {panels.DECISION_TEXT[d].lower()}" for d, m in panels.DECISION_MARK.items()) + ".")
    panels.ranked_gallery(review, t["index"].to_numpy(), lambda pos: [
        f"{review.mark(i)}{g[:3]}→{s[:3]} {sc:.2f}" for i, g, s, sc in
        zip(*(t[c].to_numpy()[pos] for c in ("index", "given_label", "suggested_label", "score")))], "le_pick")


def outliers_tab() -> None:
    o = le.outlier_table(ds, res)
    hide = st.toggle("Hide reviewed", key="le_out_hide")
    if hide:
        o = o[~o["row"].isin(latest.index)]
    st.caption("Least face-like first: the rank maximum of four signals: blank frame, saturated pixels (text, "
               "icons), isolation in feature space, and misalignment (a small CNN that tells aligned face crops "
               "from rotated, shifted and shrunk ones).")
    panels.ranked_gallery(review, o["index"].to_numpy(), lambda pos: [
        f"{review.mark(i)}#{i} {s:.3f}" for i, s in zip(o["index"].to_numpy()[pos], o["score"].to_numpy()[pos])], "le_out_pick")


# Lazy tabs: only the open tab is computed and sent to the browser.
TABS = {"Likely mislabeled": mislabeled_tab, "Not faces / outliers": outliers_tab,
        "Duplicates": lambda: panels.duplicates_panel(ds),
        "Flags": lambda: panels.flags_panel(ds, flags, latest.reset_index(), counts)}
for tab, body in zip(st.tabs(list(TABS), key="le_tab", on_change="rerun"), TABS.values()):
    if tab.open:
        with tab:
            body()
