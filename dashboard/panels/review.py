"""The Review page's panels: the current selection one face at a time, large, with its labels,
FER+ votes and prediction, and one button per decision, each with a keyboard shortcut, so the
keyboard alone drives a review. A decision is saved in the flag store
(:class:`fer_core.data.flags.FlagStore`, the Label errors page's) and moves on to the next face."""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import ui
from fer_core.constants import FER2013_EMOTIONS
from fer_core.data.flags import FlagError
from fer_core.figures import face as face_figs

#: Shortcut of each action (C and R are Streamlit's own; digits 0-6 are "mislabeled, really <class>").
KEYS = {"prev": "Left", "next": "Right", "undo": "U", "mislabeled": "M", "not_error": "N", "not_face": "X",
        "duplicate": "D"}
POS = "rv_pos"


def _signature(sel) -> tuple:
    return sel.data_hash, sel.source, len(sel), sel.indices[:50].tobytes(), sel.indices[-50:].tobytes()


def position(sel) -> int:
    """This session's position in `sel` (0..len; len = past the last face); back to the first face
    not yet decided when the selection changes."""
    if st.session_state.get("_rv_sig") != _signature(sel):
        st.session_state["_rv_sig"] = _signature(sel)
        st.session_state[POS] = 0
    return min(max(int(st.session_state.get(POS, 0)), 0), len(sel))


def _go(pos: int) -> None:
    st.session_state[POS] = pos


def _decide(ds, flags, i: int, pos: int, decision: str, label) -> None:
    try:
        flags.add(data_hash=ds.data_hash, row=int(ds.row[i]), decision=decision, label=label)
    except FlagError as e:  # not expected from these buttons; shown, never a traceback
        st.session_state["rv_error"] = str(e)
        return
    st.session_state[POS] = pos + 1


def _undo(ds, flags, indices: np.ndarray) -> None:
    gone = flags.undo(data_hash=ds.data_hash)
    st.session_state["rv_undone"] = gone
    if gone is not None:
        at = np.flatnonzero(ds.row[indices] == gone["row"])
        if len(at):  # back to the face whose decision was undone
            st.session_state[POS] = int(at[0])


def _facts(ds, i: int, pred, decision: str) -> str:
    d = ui.describe(ds, i)
    lines = [f"FER2013 label **{d['FER2013 label']}** · {d['split']} · source row {d['source row']}"]
    if ds.ferplus is not None:
        lines.append(f"FER+ majority **{d['FER+ majority']}** ({d['FER+ vs FER2013']})"
                     + (" · :orange[FER+: not a face]" if d["not a face (FER+)"] == "yes" else ""))
    if pred is not None:
        k = int(pred["probs"][i].argmax())
        lines.append(f"predicted **{pred['classes'][k]}** ({pred['probs'][i, k]:.0%})")
    lines.append(f"decision: **{ui.DECISION_TEXT[decision]}**" if decision else "decision: —")
    return "  \n".join(lines)


def _buttons(ds, flags, indices: np.ndarray, pos: int) -> None:
    n, i = len(indices), int(indices[min(pos, len(indices) - 1)])
    here = pos < n
    nav = st.columns(3)
    nav[0].button("Previous", key="rv_prev", shortcut=KEYS["prev"], icon=":material/arrow_back:", width="stretch",
                  disabled=pos == 0, on_click=_go, args=(pos - 1,))
    nav[1].button("Next", key="rv_next", shortcut=KEYS["next"], icon=":material/arrow_forward:", width="stretch",
                  disabled=pos >= n, on_click=_go, args=(pos + 1,))
    nav[2].button("Undo last decision", key="rv_undo", shortcut=KEYS["undo"], icon=":material/undo:",
                  width="stretch", on_click=_undo, args=(ds, flags, indices))
    dec = st.columns(4)
    for col, d in zip(dec, ("mislabeled", "not_error", "not_face", "duplicate")):
        col.button(ui.DECISION_TEXT[d], key=f"rv_{d}", shortcut=KEYS[d], width="stretch", disabled=not here,
                   type="primary" if d == "not_error" else "secondary", on_click=_decide,
                   args=(ds, flags, i, pos, d, None))
    st.caption("Mislabeled, and its class is:")
    cls = st.columns(len(FER2013_EMOTIONS))
    for k, (col, name) in enumerate(zip(cls, FER2013_EMOTIONS)):
        col.button(name, key=f"rv_class_{k}", shortcut=str(k), width="stretch", disabled=not here,
                   on_click=_decide, args=(ds, flags, i, pos, "mislabeled", k))


@st.fragment
def reviewer(ds, sel, flags, pred) -> None:
    """One face of the selection, large, with its facts and the decision buttons. A press reruns
    only this fragment. `pred` is the predictions artifact or None."""
    indices = sel.indices
    pos = position(sel)
    if (err := st.session_state.pop("rv_error", None)) is not None:
        st.error(f"Not saved: {err}")
    if "rv_undone" in st.session_state:
        gone = st.session_state.pop("rv_undone")
        st.toast(f"Undid '{gone['decision']}' on row {gone['row']}" if gone else "Nothing to undo")
    latest = flags.latest(ds.data_hash)
    decided = dict(zip(latest["row"].tolist(), latest["decision"].tolist()))
    done = int(np.isin(ds.row[indices], latest["row"].to_numpy()).sum())
    st.progress(done / len(indices), text=f"{done:,} of {len(indices):,} selected faces have a decision")
    if pos >= len(indices):
        st.success(f"End of the selection: {done:,} of {len(indices):,} faces have a decision. Previous (←) goes "
                   "back; Undo (U) takes the last decision back.", icon=":material/done_all:")
        with st.container(key="rv_face"):
            st.markdown(f"Face **{len(indices):,}+1** of {len(indices):,}: end")
    else:
        i = int(indices[pos])
        decision = decided.get(int(ds.row[i]), "")
        left, mid, right = st.columns([1.05, 1.25, 1.5])
        with left, st.container(key="rv_face"):
            st.markdown(f"Face **{pos + 1:,}** of {len(indices):,} · image #{i}")
            ui.show_face(ds.images[i], scale=6)
        mid.markdown(_facts(ds, i, pred, decision))
        if pred is not None:
            lab = int(ds.labels[i]) if tuple(pred["classes"]) == FER2013_EMOTIONS else -1
            mid.altair_chart(face_figs.class_probs_chart(pred["probs"][i], pred["classes"], label=lab, step=15),
                             key="rv_probs")
        if ds.ferplus is not None:
            right.altair_chart(ui.votes_chart(ds, i, step=16), key="rv_votes")
        else:
            right.info("No FER+ votes loaded: add fer2013new.csv in the sidebar.")
    _buttons(ds, flags, indices, pos)
    st.caption("Keys: ← → previous / next · M mislabeled · N not an error · X not a face · D duplicate · "
               "0-6 mislabeled, and its class is " + ", ".join(f"{k} {c}" for k, c in enumerate(FER2013_EMOTIONS))
               + " · U undo. A decision is saved at once and moves on to the next face.")
