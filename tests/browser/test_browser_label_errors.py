"""Label errors page in headless Chromium: click a face, flag it, undo, visit every tab.

Screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""
import numpy as np
import pytest
from browser_helpers import FACE_JS, VIEWPORT_IDS, VIEWPORTS

from fer_core.models.checkpoint import shipped_checkpoints

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shipped_checkpoints(), reason="no shipped checkpoint")]


def _flags(cache_dir):
    from fer_core.data.flags import FlagStore
    return FlagStore(cache_dir / "flags.sqlite")


def test_review_flag_undo_and_tabs(streamlit_app):
    from fer_core.data.dataset import load_dataset
    ds = load_dataset()
    page = streamlit_app.goto("label_errors", timeout_s=300)
    assert page.get_by_role("heading", name="Label errors").is_visible()
    assert streamlit_app.exceptions() == []
    # click the third face of the gallery (the face itself): the review panel shows it
    face = page.evaluate(FACE_JS, 2)
    streamlit_app.act(lambda: page.mouse.click(face["x"], face["y"]))
    i = face["index"]
    page.get_by_text(f"Image #{i}", exact=False).first.wait_for()
    # flag it as not a face, in the real browser, and find it in the database
    streamlit_app.act(lambda: page.get_by_role("button", name="Not a face").click())
    latest = _flags(streamlit_app.cache_dir).latest(ds.data_hash)
    assert latest["row"].tolist() == [int(ds.row[i])] and latest["decision"].tolist() == ["not_face"]
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("label_errors")
    # undo
    streamlit_app.act(lambda: page.get_by_role("button", name="Undo last decision").click())
    assert len(_flags(streamlit_app.cache_dir).latest(ds.data_hash)) == 0
    # the validation chart, then every tab renders without an exception
    streamlit_app.act(page.get_by_text("How good are the rankings?").click)  # a lazy expander: reruns
    page.get_by_text("FER+ non-faces are among", exact=False).wait_for()
    page.locator('[data-testid="stExpander"] [data-testid="stVegaLiteChart"] .role-mark path').first.wait_for()
    for tab in ("Not faces / outliers", "Duplicates", "Flags"):  # lazy tabs: each click reruns the page
        streamlit_app.act(page.get_by_role("tab", name=tab).click)
        assert streamlit_app.exceptions() == []
    streamlit_app.act(page.get_by_role("tab", name="Duplicates").click)
    page.get_by_text("Train/test leakage", exact=False).wait_for()
    streamlit_app.screenshot("label_errors_duplicates")
    # a malformed flags CSV is refused with the row named, and nothing is imported
    bad = streamlit_app.cache_dir / "bad_flags.csv"
    bad.write_text(f"row,decision\n{int(ds.row[0])},not_face\n{int(ds.row[1])},maybe\n")  # 2nd: bad decision
    streamlit_app.act(page.get_by_role("tab", name="Flags").click)
    chooser = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    streamlit_app.act(lambda: chooser.set_input_files(str(bad)))
    streamlit_app.act(lambda: page.get_by_role("button", name="Import these decisions").click())
    err = page.locator('[data-testid="stAlertContentError"]').first
    err.wait_for()
    assert "bad_flags.csv" in err.inner_text() and "CSV row 2" in err.inner_text() and "decision" in err.inner_text() and "nothing was imported" in err.inner_text()
    assert len(_flags(streamlit_app.cache_dir).latest(ds.data_hash)) == 0
    assert streamlit_app.exceptions() == []
    streamlit_app.screenshot("label_errors_bad_import")
    # the review panel's link opens the Saliency page on the same image
    page.get_by_role("tab", name="Likely mislabeled").click()
    shown = int(page.get_by_text("Image #", exact=False).first.inner_text().split("#")[1].split()[0])
    streamlit_app.act(lambda: page.get_by_role("button", name="Saliency maps of this image").click(), timeout_s=180)
    page.get_by_role("heading", name="Saliency").wait_for()
    assert "/saliency" in page.url
    page.get_by_text(f"#{shown}", exact=False).first.wait_for()
    assert streamlit_app.exceptions() == []


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
def test_flags_table_edits_are_saved_and_undone(streamlit_app, viewport):
    """The Flags tab's table is an st.data_editor: a note typed and a decision picked in the grid
    (keyboard, as a person would) become new decisions in the flag store; Undo takes the last back."""
    from fer_core.data.dataset import load_dataset
    ds = load_dataset()
    flags = _flags(streamlit_app.cache_dir)
    r0, r1 = int(ds.row[10]), int(ds.row[11])
    flags.add(data_hash=ds.data_hash, row=r0, decision="mislabeled", label=3, note="eyes")
    flags.add(data_hash=ds.data_hash, row=r1, decision="not_error")
    try:
        page = streamlit_app.goto("label_errors", timeout_s=300)
        streamlit_app.act(page.get_by_role("tab", name="Flags").click)
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for()
        order = [int(page.locator(f'[data-testid="glide-cell-1-{i}"]').inner_text()) for i in range(2)]  # source rows

        def edit(row: int, col: int, *keys: str) -> None:
            """Select the cell (row, col) of the grid, then press/type `keys` ('<Key>' = press)."""
            def go():
                box = grid.bounding_box()  # read now: a rerun's messages can move the grid
                page.mouse.click(box["x"] + 40, box["y"] + 35 + 34 * order.index(row) + 17)  # the row's first cell
                for _ in range(col):
                    page.keyboard.press("ArrowRight")
                for k in keys:
                    if k.startswith("option:"):  # a dropdown cell: wait until typing has filtered it to this
                        page.get_by_role("option", name=k.removeprefix("option:"), exact=True).wait_for()
                        continue
                    page.keyboard.press(k[1:-1]) if k.startswith("<") else page.keyboard.type(k)
                    page.wait_for_timeout(300)
            streamlit_app.act(go)

        def latest(row):
            return _flags(streamlit_app.cache_dir).latest(ds.data_hash).set_index("row").loc[row]

        edit(r0, 6, "<Enter>", "<Control+a>", "cartoon", "<Enter>")      # the note
        assert (latest(r0)["decision"], int(latest(r0)["label"]), latest(r0)["note"]) == ("mislabeled", 3, "cartoon")
        edit(r1, 4, "<Enter>", "not_face", "option:not_face", "<Enter>")  # the decision
        assert latest(r1)["decision"] == "not_face"
        # both numbers of an image, labelled, and its face (issue 17)
        header = grid.locator('[role="columnheader"]').all_inner_texts()  # the grid's accessible table
        assert header[:3] == ["face", "source row", "dataset index"], header
        assert grid.locator('[data-testid="glide-cell-0-0"]').inner_text().startswith("data:image/png;base64,")
        assert [int(page.locator(f'[data-testid="glide-cell-2-{k}"]').inner_text()) for k in range(2)] == \
            [int(np.flatnonzero(ds.row == r)[0]) for r in order]
        assert streamlit_app.exceptions() == []
        streamlit_app.screenshot("label_errors_flags_table")
        streamlit_app.act(lambda: page.get_by_role("button", name="Undo last decision").click())
        assert latest(r1)["decision"] == "not_error" and latest(r0)["note"] == "cartoon"
    finally:
        for _ in range(len(flags.history(ds.data_hash))):
            flags.undo(data_hash=ds.data_hash)
