"""Load: twenty sessions at once on Try a face (the real server, over its websocket) and twenty
sessions recording flags at once (the flag store, as the server's threads and as processes).

The Try-a-face sessions use tests/st_client.py, a headless client that speaks the browser's
protocol: twenty Chromium tabs cost about 6x the server's own CPU on the 2-core dev machine (76 s
against 13 s, measured), which would make the browser, not the server, the thing under load.
tests/browser/test_browser_fuzz_uploads.py drives the same page in Chromium.
"""
import multiprocessing as mp
import sqlite3
import sys
import threading
import types
import time

import pytest

from fer_core.models.checkpoint import load_checkpoint, shipped_checkpoints
from fer_core.data.flags import FlagStore
from browser_helpers import serve_dashboard
from flag_sessions import DATA_HASH, flag_process, flag_session

SESSIONS = 20
FLAGS_PER_SESSION = 25
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photos():
    """SESSIONS different JPEG photos of 1-3 faces, and the face labels each must get."""
    from fer_core.data.dataset import load_dataset
    from fer_core.analysis.faces import analyze_photo, demo_photo, load_photo
    from fer_testutils import image_bytes

    if not shipped_checkpoints():
        pytest.skip("no shipped checkpoint")
    model = load_checkpoint(shipped_checkpoints()[0])[0]
    classes = list(model.classes)
    ds = load_dataset(use_cache=False)
    out = []
    for k in range(SESSIONS):
        rgb, _, _ = demo_photo(ds.images, ds.labels, n=1 + k % 3, size=(480, 360), face_px=110, seed=k)
        data = image_bytes(rgb, "JPEG", quality=92)
        faces = analyze_photo(load_photo(data).rgb, model)
        out.append((data, [classes[f["label"]] for f in faces]))
    assert len({tuple(labels) for _, labels in out}) > 5  # the sessions' answers differ
    return out


@pytest.mark.timeout(240)
def test_twenty_sessions_upload_on_try_a_face_at_once(photos, tmp_path):
    from st_client import StreamlitClient

    results: dict[int, dict] = {}
    start = threading.Barrier(SESSIONS, timeout=120)

    def session(k: int) -> None:
        rec = results[k] = {}
        try:
            with StreamlitClient(url) as s:
                first = s.run("try_a_face")
                uploader = first.widget_id("file_uploader", "taf_upload")
                rec["first"] = first.exceptions
                start.wait()  # every session uploads at the same moment
                t0 = time.perf_counter()
                run = s.upload_and_rerun("try_a_face", uploader, f"photo{k}.jpg", photos[k][0])
                rec["seconds"] = time.perf_counter() - t0
                rec["exceptions"], rec["errors"] = run.exceptions, run.errors
                rec["faces"] = [h.body.split(": ", 1)[1].rsplit(" (", 1)[0]
                                for h in run.of("heading") if h.body.startswith("Face ")]
                bad = s.upload_and_rerun("try_a_face", uploader, f"broken{k}.jpg", photos[k][0][:300])
                rec["bad"] = bad.errors, bad.exceptions
        except Exception as e:  # noqa: BLE001 - reported per session below
            rec["failed"] = f"{type(e).__name__}: {e}"
            start.abort()

    log_path = tmp_path / "streamlit.log"
    with open(log_path, "w") as log, serve_dashboard(tmp_path / "cache", log=log) as url:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=session, args=(k,)) for k in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(200)
        wall = time.perf_counter() - t0
        import urllib.request
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as r:
            assert r.status == 200
    failed = {k: r["failed"] for k, r in results.items() if "failed" in r}
    assert not failed and len(results) == SESSIONS, (failed, log_path.read_text()[-3000:])
    for k, r in results.items():
        labels = photos[k][1]
        assert r["first"] == [] and r["exceptions"] == [] and r["errors"] == [], (k, r)
        assert r["faces"] == labels, (k, r["faces"], labels)  # its own photo's answer, not another session's
        errors, exceptions = r["bad"]
        assert exceptions == [] and len(errors) == 1 and f"broken{k}.jpg" in errors[0], (k, r["bad"])
    assert "Traceback" not in log_path.read_text()
    slowest = max(r["seconds"] for r in results.values())
    print(f"\n{SESSIONS} sessions: all answered in {wall:.1f} s; slowest upload-to-result {slowest:.1f} s")


# ---- flags ----------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_twenty_sessions_flag_at_once_and_no_flag_is_lost(tmp_path, monkeypatch):
    """Half the sessions are threads sharing one FlagStore (the dashboard's st.cache_resource
    store serving its sessions), half are processes with their own (other servers, scripts)."""
    # AppTest runs of page scripts earlier in the session leave a page as sys.modules["__main__"];
    # forkserver would re-run it in the children. A bare __main__ gives them nothing to re-run.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    path = tmp_path / "flags.sqlite"
    shared = FlagStore(path)
    n_proc = n_thread = SESSIONS // 2
    ctx = mp.get_context("forkserver")  # no fork of a process holding torch's threads
    ctx.set_forkserver_preload(["fer_core.flags", "flag_sessions"])
    ready = ctx.Barrier(n_proc + 1)
    procs = [ctx.Process(target=flag_process, args=(str(path), k, FLAGS_PER_SESSION, ready))
             for k in range(n_thread, SESSIONS)]
    errors: list[str] = []

    def thread_session(k):
        try:
            flag_session(shared, k, FLAGS_PER_SESSION)
        except Exception as e:  # noqa: BLE001
            errors.append(f"session {k}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=thread_session, args=(k,)) for k in range(n_thread)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    ready.wait(60)  # every process is up: all twenty sessions write together
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for p in procs:
        p.join(60)
    wall = time.perf_counter() - t0
    assert not errors and [p.exitcode for p in procs] == [0] * n_proc, (errors, [p.exitcode for p in procs])

    hist = FlagStore(path).history(DATA_HASH)
    expected = {f"s{k}-{i}" for k in range(SESSIONS) for i in range(FLAGS_PER_SESSION)}
    assert len(hist) == len(expected) and hist["id"].is_unique
    assert set(hist["note"]) == expected  # every flag of every session is there, once
    latest = FlagStore(path).latest(DATA_HASH)
    shared_rows = {i for i in range(FLAGS_PER_SESSION) if i % 2 == 0}
    own_rows = {k * 1000 + i for k in range(SESSIONS) for i in range(FLAGS_PER_SESSION) if i % 2}
    assert set(latest["row"]) == shared_rows | own_rows and latest["row"].is_unique
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(f"\n{SESSIONS} sessions x {FLAGS_PER_SESSION} flags: {len(hist)} stored in {wall:.1f} s")
