"""Every dashboard page runs on the bundled sample with no exception (streamlit AppTest).

The cache lives in a temporary FER_CACHE_DIR shared by this module (the sample's parse and
eigenfaces are built once); each test starts from an empty settings.json.
"""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

st_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = st_testing.AppTest

ROOT = Path(__file__).resolve().parent.parent
HOME = str(ROOT / "dashboard" / "Home.py")
DATASET = str(ROOT / "pages" / "dataset.py")
EIGENFACES = str(ROOT / "pages" / "eigenfaces.py")
TIMEOUT = 60


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fer-cache")


@pytest.fixture(autouse=True)
def isolated_cache(cache_dir, monkeypatch):
    """Point the Store at the temporary cache; forget any saved data source."""
    monkeypatch.setenv("FER_CACHE_DIR", str(cache_dir))
    (cache_dir / "settings.json").unlink(missing_ok=True)
    return cache_dir


def run(path: str, **kw) -> AppTest:
    at = AppTest.from_file(path, default_timeout=TIMEOUT, **kw)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.title, *at.subheader])


def matches(at) -> tuple[int, int]:
    m = re.search(r"\*\*([\d,]+)\*\* of ([\d,]+) images match", texts(at))
    assert m, texts(at)
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


def save_source(cache_dir: Path, path, ferplus="") -> None:
    (cache_dir / "settings.json").write_text(json.dumps(
        {"data_source": {"kind": "path", "path": str(path), "ferplus": str(ferplus)}}))


def small_csv(tmp_path: Path, n: int = 20, *, corrupt: bool = False) -> Path:
    from fer_core.data.dataset import SAMPLE_CSV
    df = pd.read_csv(SAMPLE_CSV, dtype=str).head(n)
    if corrupt:
        df.loc[3, "pixels"] = "12 34 oops"
    out = tmp_path / "fer_small.csv"
    df.to_csv(out, index=False)
    return out


# ---- Home --------------------------------------------------------------------------------
def test_home_runs_on_sample():
    at = run(HOME)
    assert at.title[0].value == "FER Explorer"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "1,000"
    assert metrics["Training"] == "640"
    assert metrics["FER+ agrees with FER2013"].endswith("%")
    assert not at.error
    assert "Pages" in [s.value for s in at.subheader]


def test_home_lists_every_page_and_they_exist():
    files = re.findall(r'^    \("(\w+\.py)", "', Path(HOME).read_text(), flags=re.M)
    assert {"dataset.py", "eigenfaces.py"} <= set(files)
    for f in files:
        assert (ROOT / "pages" / f).is_file(), f


def test_home_navigates_to_each_page():
    at = run(HOME)
    for page, title in (("../pages/dataset.py", "Dataset"), ("../pages/eigenfaces.py", "Eigenfaces")):
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.title[0].value == title


def test_missing_artifact_shows_command_and_builds(isolated_cache):
    import shutil
    shutil.rmtree(isolated_cache / "eigenfaces", ignore_errors=True)
    at = run(HOME)
    assert any("python -m fer_core.prepare" in c.value for c in at.code)
    build = [b for b in at.button if b.label.startswith("Build eigenfaces")]
    assert build
    build[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "**eigenfaces**: mean faces, eigenfaces, explained variance (PCA) — ready" in texts(at)


# ---- data source picker ------------------------------------------------------------------
def test_bad_saved_path_shows_error_and_falls_back(isolated_cache):
    save_source(isolated_cache, "/nonexistent/fer2013.csv")
    at = run(HOME)
    assert at.error and "not found" in at.error[0].value
    assert "fer2013.csv" in at.error[0].value
    assert {m.label: m.value for m in at.metric}["Images"] == "1,000"  # the sample


def test_malformed_file_shows_reader_message(isolated_cache, tmp_path):
    save_source(isolated_cache, small_csv(tmp_path, corrupt=True))
    at = run(DATASET)
    assert at.error
    msg = at.error[0].value
    assert "row 3" in msg and "pixels" in msg and "oops" in msg
    assert matches(at)[1] == 1000


def test_picker_loads_a_file_and_remembers_it(isolated_cache, tmp_path):
    csv = small_csv(tmp_path, 20)
    at = run(HOME)
    at.sidebar.radio[0].set_value("File or folder")
    at.sidebar.text_input[0].input(str(csv))
    at.sidebar.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Images"] == "20"
    saved = json.loads((isolated_cache / "settings.json").read_text())["data_source"]
    assert saved == {"kind": "path", "path": str(csv), "ferplus": ""}
    # a fresh session (a restart) starts from the saved source; no FER+ -> FER+ filters disabled
    at2 = run(DATASET)
    assert matches(at2) == (20, 20)
    assert at2.multiselect[2].disabled


def test_picker_bad_path_is_not_saved(isolated_cache):
    at = run(HOME)
    at.sidebar.radio[0].set_value("File or folder")
    at.sidebar.text_input[0].input("/nope/fer2013.csv.gz")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.error and "not found" in at.error[0].value
    assert not (isolated_cache / "settings.json").exists()


# ---- Dataset page ------------------------------------------------------------------------
def test_dataset_page_runs_and_filters():
    from fer_core.data.dataset import load_dataset
    ds = load_dataset()
    at = run(DATASET)
    assert at.title[0].value == "Dataset"
    assert matches(at) == (1000, 1000)
    labels = next(m for m in at.multiselect if m.label == "FER2013 label")
    labels.set_value([3]).run()  # happy
    assert not at.exception
    assert matches(at) == (int((ds.labels == 3).sum()), 1000)
    agree = next(m for m in at.multiselect if m.label == "FER+ vs FER2013 label")
    agree.set_value(["disagree"]).run()
    fp = ds.ferplus
    want = int(((ds.labels == 3) & (fp.majority >= 0) & (fp.majority_fer2013 != 3)).sum())
    assert matches(at)[0] == want
    faces = next(s for s in at.selectbox if s.label == "Not a face (FER+)")
    faces.set_value("not_face").run()
    assert not at.exception
    assert matches(at)[0] == int(((ds.labels == 3) & fp.not_face & (fp.majority >= 0)
                                  & (fp.majority_fer2013 != 3)).sum())


def test_dataset_pagination_and_selection():
    at = run(DATASET)
    page = next(n for n in at.number_input if n.label.startswith("Page"))
    assert page.value == 1 and "of 13" in page.label  # 1000 images, 80 per page
    page.set_value(2).run()
    assert not at.exception
    assert at.session_state["ds_grid__ids"][:2] == [80, 81]  # the clickable faces of page 2
    # changing a filter goes back to page 1
    next(m for m in at.multiselect if m.label == "Split").set_value(["PublicTest"]).run()
    assert next(n for n in at.number_input if n.label.startswith("Page")).value == 1


def test_dataset_sort_and_tabs():
    at = run(DATASET)
    next(s for s in at.selectbox if s.label == "Order").set_value("contrast, lowest first").run()
    assert not at.exception
    assert not [r for r in at.radio if r.label == "Labels"]  # lazy tabs: only the open one runs
    at.session_state["ds_tab"] = "Class distribution"
    at.run()
    dist = next(r for r in at.radio if r.label == "Labels")
    dist.set_value("FER+ majority").run()
    assert not at.exception
    next(r for r in at.radio if r.label == "Bars").set_value("share of split").run()
    assert not at.exception
    at.session_state["ds_tab"] = "Pixel statistics"
    at.run()
    assert not at.exception and any("Lowest-contrast images" in m.value for m in at.markdown)
    assert not [r for r in at.radio if r.label == "Labels"]


# ---- Eigenfaces page ---------------------------------------------------------------------
def test_eigenfaces_page_runs_and_reconstructs():
    at = run(EIGENFACES)
    assert at.title[0].value == "Eigenfaces"
    assert {"Mean faces", "Eigenfaces", "Explained variance", "Reconstruction"} <= {s.value for s in at.subheader}
    at.slider[1].set_value(10).run()  # components k
    assert not at.exception
    at.number_input[0].set_value(999).run()
    assert not at.exception
    at.selectbox[0].set_value("happy").run()  # per-emotion eigenfaces
    assert not at.exception


# ---- other sources -----------------------------------------------------------------------
def _image_folder(root: Path, per_class: dict) -> Path:
    from PIL import Image
    rng = np.random.default_rng(0)
    for (split, emotion), n in per_class.items():
        d = root / split / emotion if emotion else root / split
        d.mkdir(parents=True, exist_ok=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(d / f"{k}.png")
    return root


@pytest.mark.parametrize("page", [HOME, DATASET, EIGENFACES])
def test_pages_run_on_an_image_folder_without_ferplus(isolated_cache, tmp_path, page):
    folder = _image_folder(tmp_path / "faces", {("train", "happy"): 4, ("train", "sad"): 3, ("test", "sad"): 2})
    save_source(isolated_cache, folder)
    at = run(page)
    assert not at.error, [e.value for e in at.error]
    if page == DATASET:
        assert matches(at) == (9, 9)
        assert all(m.disabled for m in at.multiselect if m.label.startswith("FER+"))


def test_eigenfaces_on_one_image_shows_error_not_traceback(isolated_cache, tmp_path):
    save_source(isolated_cache, _image_folder(tmp_path / "one", {("unsorted", ""): 1}))
    at = run(EIGENFACES)
    assert at.error and "at least 2 images" in at.error[0].value
    for page in (HOME, DATASET):  # unlabeled, unsplit: the other pages still work
        at = run(page)
        assert not at.error, [e.value for e in at.error]
