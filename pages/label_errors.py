"""Label errors: ranked galleries of likely mislabeled images, non-faces and duplicates; flag, undo, export."""

from dashboard import ui

import numpy as np
import streamlit as st

from fer_core.analysis import label_errors as le
from fer_core.figures import face as face_figs
from fer_core.figures import label_errors as le_figs
from fer_core.constants import FER2013_EMOTIONS
from fer_core.data.flags import DECISIONS, FlagError

AUTO_IMAGES = 2000  # rankings of datasets up to this size are computed without asking (seconds)
PER_PAGE = 24
DECISION_TEXT = {"mislabeled": "Mislabeled", "not_error": "Not an error", "not_face": "Not a face",
                 "duplicate": "Duplicate"}

st.title("Label errors")
ds = ui.current_dataset()
models = ui.require_models()
model = st.sidebar.selectbox("Model", models, key="le_model")
if len(np.unique(ds.labels[ds.labels >= 0])) < 2:
    st.info("This dataset has no FER2013 labels to check (an unlabeled image folder?).")
    st.stop()
if not ui.label_errors_cached(ds, model) and len(ds) > AUTO_IMAGES:
    st.info(f"The rankings of these {len(ds):,} images are not computed yet (about 3 min on a 2-core CPU, "
            f"once). Run `{le.command(ds.source, model)}` (or `python -m fer_core.prepare`), or:")
    if not st.button("Compute the rankings now", type="primary"):
        st.stop()
res = ui.run_with_progress("Ranking likely label errors...", ui.label_errors, ds=ds, model=model)
flags = ui.flag_store()
latest = flags.latest(ds.data_hash).set_index("row")
counts = flags.counts(ds.data_hash)

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
            v = le.validate_rankings(ds, res, ks=tuple(k for k in le.PRECISION_KS if k <= len(ds) // 4) or (50,))
            found, total = le.nonfaces_in_top(ds, res, k=min(500, len(ds) // 10))
            st.altair_chart(le_figs.precision_at_k_chart(v), key="le_pak")
            st.caption(f"Error = the FER2013 label differs from the FER+ plurality label. The base rate is a "
                       f"random ranking's precision. Non-face ranking: {found} of the {total} FER+ non-faces are "
                       f"among the {min(500, len(ds) // 10)} least face-like images.")


def decision_of(row: int) -> str:
    return str(latest.loc[row, "decision"]) if row in latest.index else ""


def review_panel(i: int, key: str) -> None:
    """The picked image large, its probabilities and FER+ votes, and the decision buttons."""
    row, lab = int(ds.row[i]), int(ds.labels[i])
    sug = int(res["suggested"][i])
    st.markdown(f"**Image #{i}** · source row {row} · {ds.split[i] or '—'}  \n"
                f"given **{ui.label_name(lab)}** · suggested **{ui.label_name(sug)}**"
                + (f"  \ncurrent decision: **{DECISION_TEXT[decision_of(row)]}**" if decision_of(row) else ""))
    ui.show_face(ds.images[i], scale=4)
    st.altair_chart(face_figs.class_probs_chart(res["pred_probs"][i], FER2013_EMOTIONS, label=lab, step=18),
                    key=f"{key}_probs_{i}")
    if ds.ferplus is not None:
        st.altair_chart(ui.votes_chart(ds, i), key=f"{key}_votes_{i}")
    corr = st.selectbox("Corrected label", FER2013_EMOTIONS, index=max(sug, 0), key=f"{key}_corr_{i}")
    note = st.text_input("Note (optional)", key=f"{key}_note_{i}", max_chars=500)
    cols = st.columns(2)
    for j, d in enumerate(DECISIONS):
        if cols[j % 2].button(DECISION_TEXT[d], key=f"{key}_{d}_{i}", width="stretch",
                              type="primary" if d == "mislabeled" else "secondary"):
            try:
                flags.add(data_hash=ds.data_hash, row=row, decision=d,
                          label=FER2013_EMOTIONS.index(corr) if d == "mislabeled" else None, note=note)
            except FlagError as e:
                st.error(str(e))
            else:
                st.session_state[f"{key}_advance"] = True
                st.rerun()
    if st.button("Saliency maps of this image", icon=":material/local_fire_department:", key=f"{key}_sal_{i}"):
        st.session_state["selected_row"] = i
        try:
            st.switch_page(ui.PAGES_DIR / "saliency.py")
        except Exception:  # page run on its own (no navigation)
            st.info("Open the Saliency page: this image is selected there.")


def ranked_gallery(order: np.ndarray, captions, key: str) -> None:
    """Paged thumbnails of `order` (dataset indices, most suspicious first) beside the review panel.
    `captions(positions)` gives the captions of those positions of `order` (only the shown page's
    are built: the full data has 35,887)."""
    if len(order) == 0:
        st.info("No images match the filters.")
        return
    pages = (len(order) + PER_PAGE - 1) // PER_PAGE
    page = st.number_input(f"Page (of {pages}, {PER_PAGE} images each)", 1, pages, 1, key=f"{key}_page") - 1
    shown = order[page * PER_PAGE:(page + 1) * PER_PAGE]
    if st.session_state.pop(f"{key}_advance", False) or not (order == st.session_state.get(key, -1)).any():
        nxt = [j for j in shown if not decision_of(int(ds.row[j]))]
        st.session_state[key] = int(nxt[0] if nxt else shown[0])
    left, right = st.columns([2.2, 1])
    with left:
        caps = captions(np.arange(page * PER_PAGE, page * PER_PAGE + len(shown)))
        ui.pick_gallery(ds.images, shown, caps, key=key, selected=st.session_state[key])
    with right, st.container(border=True):
        review_panel(st.session_state[key], key)


def mark(i: int) -> str:
    d = decision_of(int(ds.row[i]))
    return {"mislabeled": "✎ ", "not_error": "✓ ", "not_face": "∅ ", "duplicate": "⧉ "}.get(d, "")


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
    st.caption(f"{len(t):,} images, most suspicious first. Click a face to review it; a decision moves on to "
               "the next unreviewed face. ✎ mislabeled · ✓ not an error · ∅ not a face · ⧉ duplicate.")
    ranked_gallery(t["index"].to_numpy(), lambda pos: [
        f"{mark(i)}{g[:3]}→{s[:3]} {sc:.2f}" for i, g, s, sc in
        zip(*(t[c].to_numpy()[pos] for c in ("index", "given_label", "suggested_label", "score")))], "le_pick")


def outliers_tab() -> None:
    o = le.outlier_table(ds, res)
    hide = st.toggle("Hide reviewed", key="le_out_hide")
    if hide:
        o = o[~o["row"].isin(latest.index)]
    st.caption("Least face-like first: the rank maximum of four signals: blank frame, saturated pixels (text, "
               "icons), isolation in feature space, and misalignment (a small CNN that tells aligned face crops "
               "from rotated, shifted and shrunk ones).")
    ranked_gallery(o["index"].to_numpy(), lambda pos: [
        f"{mark(i)}#{i} {s:.3f}" for i, s in zip(o["index"].to_numpy()[pos], o["score"].to_numpy()[pos])], "le_out_pick")


# Lazy tabs: only the open tab is computed and sent to the browser.
TABS = {"Likely mislabeled": mislabeled_tab, "Not faces / outliers": outliers_tab,
        "Duplicates": lambda: ui.duplicates_panel(ds),
        "Flags": lambda: ui.flags_panel(ds, flags, latest.reset_index(), counts)}
for tab, body in zip(st.tabs(list(TABS), key="le_tab", on_change="rerun"), TABS.values()):
    if tab.open:
        with tab:
            body()
