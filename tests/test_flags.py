"""Flag storage: round trip, validation, CSV import/export, concurrent writers, a killed writer."""
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_core.data.flags import DECISIONS, FlagError, FlagStore, read_corrections

ROOT = Path(__file__).resolve().parent.parent
H = "data-hash-1"


@pytest.fixture
def flags(tmp_path):
    return FlagStore(tmp_path / "flags.sqlite")


def test_default_file_is_in_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "c"))
    fs = FlagStore()
    assert fs.path == tmp_path / "c" / "flags.sqlite" and fs.path.is_file()
    with sqlite3.connect(fs.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_add_latest_history_counts_undo(flags):
    assert flags.latest(H).empty and flags.history(H).empty and flags.undo(data_hash=H) is None
    a = flags.add(data_hash=H, row=5, decision="mislabeled", label=4, note="eyes closed")
    b = flags.add(data_hash=H, row=2, decision="not_face")
    c = flags.add(data_hash=H, row=5, decision="not_error")  # a second look: the label is fine
    flags.add(data_hash="other", row=5, decision="duplicate")
    assert a < b < c
    latest = flags.latest(H)
    assert list(latest.columns) == ["row", "decision", "label", "note", "time"]
    assert latest["row"].tolist() == [2, 5] and latest["decision"].tolist() == ["not_face", "not_error"]
    assert latest["label"].isna().all() and str(latest["time"].dtype).startswith("datetime64")
    hist = flags.history(H)
    assert hist["id"].tolist() == [a, b, c] and hist["label"].tolist()[0] == 4
    assert flags.counts(H) == {"reviewed": 2, "flagged": 1, "mislabeled": 0, "not_error": 1, "not_face": 1,
                               "duplicate": 0}
    undone = flags.undo(data_hash=H)
    assert undone["id"] == c and undone["row"] == 5 and undone["decision"] == "not_error"
    latest = flags.latest(H).set_index("row")
    assert latest.loc[5, "decision"] == "mislabeled" and latest.loc[5, "label"] == 4
    assert latest.loc[5, "note"] == "eyes closed"
    assert flags.counts("other")["duplicate"] == 1  # other datasets are untouched
    d = flags.add(data_hash=H, row=9, decision="duplicate")
    assert d > c  # ids are never reused after an undo


@pytest.mark.parametrize("kw, field", [
    ({"row": -1, "decision": "mislabeled"}, "row"),
    ({"row": "x", "decision": "mislabeled"}, "row"),
    ({"row": 1, "decision": "maybe"}, "decision"),
    ({"row": 1, "decision": "mislabeled", "label": 7}, "corrected_label"),
    ({"row": 1, "decision": "mislabeled", "label": "grumpy"}, "corrected_label"),
    ({"row": 1, "decision": "not_face", "label": 3}, "corrected_label"),
])
def test_add_rejects_bad_values(flags, kw, field):
    with pytest.raises(FlagError) as e:
        flags.add(data_hash=H, **kw)
    assert e.value.field == field
    assert flags.history(H).empty


def test_add_accepts_names_and_aliases(flags):
    flags.add(data_hash=H, row=1, decision="Not a face")
    flags.add(data_hash=H, row=2, decision="mislabelled", label="sad")
    latest = flags.latest(H)
    assert latest["decision"].tolist() == ["not_face", "mislabeled"]
    assert pd.isna(latest["label"].iloc[0]) and latest["label"].iloc[1] == 4


def test_user_text_is_never_sql(flags):
    evil = "'); DROP TABLE flags; --"
    flags.add(data_hash=H, row=3, decision="not_face", note=evil)
    flags.add(data_hash=evil, row=4, decision="not_face", note='"; DELETE FROM flags; --')
    assert flags.latest(H)["note"].tolist() == [evil]
    assert flags.latest(evil)["row"].tolist() == [4]
    assert len(flags.history(H)) == 1


def test_export_import_round_trip(flags, tmp_path):
    flags.add(data_hash=H, row=0, decision="mislabeled", label=3, note='says "hi", twice\nnew line')
    flags.add(data_hash=H, row=2, decision="mislabeled")  # wrong, but no better label known
    flags.add(data_hash=H, row=3, decision="not_face", note="cartoon")
    flags.add(data_hash=H, row=4, decision="not_error")
    labels = np.array([0, 1, 2, 3, 4, 5])  # indexed by row
    text = flags.export_csv(H, labels)
    lines = text.splitlines()
    assert lines[0] == "row,original_label,corrected_label,decision,note"
    assert lines[1].startswith("0,angry,happy,mislabeled,")
    assert "2,fear,,mislabeled," in text and "3,happy,,not_face,cartoon" in text

    other = FlagStore(tmp_path / "other.sqlite")
    assert other.import_csv(H, text, n_rows=6) == 4
    cols = ["row", "decision", "label", "note"]
    pd.testing.assert_frame_equal(other.latest(H)[cols], flags.latest(H)[cols])

    path = tmp_path / "flags.csv"
    path.write_text(text)
    corr = read_corrections(path)
    assert corr.to_dict("list") == {"row": [0, 2, 3, 4], "corrected_label": [3, -1, -1, -1],
                                    "decision": ["mislabeled", "mislabeled", "not_face", "not_error"]}


def test_export_escapes_formulas_and_import_restores_them(flags, tmp_path):
    import csv
    import io
    notes = {0: '=HYPERLINK("http://x","click")', 1: "+1 looks happy", 2: "-", 3: "@SUM(A1)", 4: "plain = fine"}
    for r, note in notes.items():
        flags.add(data_hash=H, row=r, decision="not_error", note=note)
    text = flags.export_csv(H, np.zeros(6, int))
    cells = {int(rec["row"]): rec["note"] for rec in csv.DictReader(io.StringIO(text))}
    assert cells == {0: "'" + notes[0], 1: "'+1 looks happy", 2: "'-", 3: "'@SUM(A1)", 4: "plain = fine"}
    other = FlagStore(tmp_path / "other.sqlite")
    assert other.import_csv(H, text, n_rows=6) == 5
    assert dict(zip(other.latest(H)["row"], other.latest(H)["note"])) == notes


def test_export_with_rows_of_a_subset(flags):
    flags.add(data_hash=H, row=1000, decision="mislabeled", label=0)
    text = flags.export_csv(H, np.array([6, 3]), rows=np.array([7, 1000]))
    assert "1000,happy,angry,mislabeled," in text
    with pytest.raises(FlagError, match="row 1000"):
        flags.export_csv(H, np.array([6, 3]))  # 1000 is not an index into two labels


@pytest.mark.parametrize("body, csv_row, field", [
    ("1,sad,mislabeled\n2,happy,bogus\n", 2, "decision"),
    ("1,sad,mislabeled\n2,,not_face\n3,grumpy,mislabeled\n", 3, "corrected_label"),
    ("1,sad,mislabeled\n99,,not_face\n", 2, "row"),
    ("-3,,not_face\n", 1, "row"),
    ("1.5,,not_face\n", 1, "row"),
    ("1,sad,mislabeled\n2,,\n", 2, "decision"),
    ("1,sad,mislabeled,extra\n", 1, None),
])
def test_import_names_the_bad_row_and_imports_nothing(flags, body, csv_row, field):
    text = "row,corrected_label,decision\n" + body
    with pytest.raises(FlagError) as e:
        flags.import_csv(H, text, n_rows=10)
    assert e.value.csv_row == csv_row and e.value.field == field
    assert f"CSV row {csv_row} (line {csv_row + 1})" in str(e.value)
    assert flags.history(H).empty


def test_import_checks_the_header_and_the_rows_of_the_dataset(flags):
    with pytest.raises(FlagError, match="needs columns"):
        flags.import_csv(H, "image,label\n1,2\n", n_rows=10)
    with pytest.raises(FlagError, match="empty"):
        flags.import_csv(H, "", n_rows=10)
    with pytest.raises(FlagError, match="not an image of this dataset"):
        flags.import_csv(H, "row,decision\n5,not_face\n", n_rows=10, rows=np.array([1, 2, 3]))
    # BOM, extra columns, upper-case header, names or indices: all fine
    assert flags.import_csv(H, "\ufeffROW,Decision,corrected_label,who\n1,mislabeled,4,me\n", n_rows=10) == 1
    assert flags.latest(H)["label"].tolist() == [4]


def test_read_corrections_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_corrections(tmp_path / "none.csv")
    p = tmp_path / "c.csv"
    p.write_text("row,corrected_label\n4,sad\n4,happy\n8,\n")
    with pytest.raises(FlagError) as e:
        read_corrections(p)
    assert e.value.csv_row == 3 and "c.csv" in str(e.value)
    p.write_text("row,corrected_label\n4,sad\n4,happy\n")  # no decision column: 'mislabeled'; last wins
    assert read_corrections(p).to_dict("list") == {"row": [4], "corrected_label": [3], "decision": ["mislabeled"]}


def test_a_foreign_file_is_a_clear_error(tmp_path):
    p = tmp_path / "x.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(FlagError, match="not a flags database"):
        FlagStore(p)


def test_threads_sharing_one_store(flags):
    def work(k):
        for i in range(50):
            flags.add(data_hash=H, row=k * 100 + i, decision="not_face")
    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(flags.history(H)) == 200


def _writer(path, k, n, ready):
    fs = FlagStore(path)
    ready.wait(60)  # both processes start writing together
    for i in range(n):
        fs.add(data_hash=H, row=i, decision=DECISIONS[i % 4] if i % 4 else "mislabeled", note=f"p{k}-{i}")


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "flags.sqlite"
    ctx = mp.get_context("spawn")  # no fork of a process that may hold torch's threads
    ready = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(str(path), k, 500, ready)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    hist = FlagStore(path).history(H)
    assert len(hist) == 1000 and hist["id"].is_unique
    assert set(hist["note"]) == {f"p{k}-{i}" for k in range(2) for i in range(500)}


KILL_CHILD = """
import sys
from fer_core.data.flags import FlagStore
fs = FlagStore(sys.argv[1])
i = 0
while True:
    fid = fs.add(data_hash="h", row=i % 50, decision="not_face", note="x" * (i % 300))
    print(fid, flush=True)
    i += 1
"""


def test_a_writer_killed_mid_write_leaves_every_committed_flag(tmp_path):
    path = tmp_path / "flags.sqlite"
    FlagStore(path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    committed = []
    try:
        while len(committed) < 300:
            line = child.stdout.readline()
            assert line, "the writer stopped early"
            committed.append(int(line))
    finally:
        child.send_signal(signal.SIGKILL)  # in the middle of its next writes
        child.wait(10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = set(FlagStore(path).history("h")["id"])
    assert set(committed) <= ids
    fs = FlagStore(path)  # and the file still takes writes
    assert fs.add(data_hash="h", row=1, decision="not_error") > max(ids)


def test_decisions_under_the_datas_earlier_hash_are_carried_over(tmp_path):
    # before the stage registry, a file loaded with its FER+ votes had a data hash that included
    # them; flags recorded then must still show for the same data (FlagStore.adopt)
    import gzip
    import shutil

    from fer_core.data.dataset import SAMPLE_CSV, SAMPLE_FERPLUS, load_dataset
    from fer_core.data.flags import FlagStore
    from fer_core.store import hash_bytes, hash_file
    csv = tmp_path / "fer2013.csv"
    with gzip.open(SAMPLE_CSV) as src, open(csv, "wb") as dst:
        shutil.copyfileobj(src, dst)
    ds = load_dataset(csv, SAMPLE_FERPLUS)
    old = hash_bytes(hash_file(csv), hash_file(SAMPLE_FERPLUS))  # the earlier data_hash with FER+
    assert ds.previous_hashes == (old,) and old != ds.data_hash
    assert load_dataset(csv).previous_hashes == () and ds.subset([0, 1]).previous_hashes == ()
    flags = FlagStore(tmp_path / "flags.sqlite")
    flags.add(data_hash=old, row=int(ds.row[3]), decision="not_face")
    flags.add(data_hash=old, row=int(ds.row[5]), decision="mislabeled", label=3)
    flags.add(data_hash="another dataset", row=1, decision="duplicate")
    assert flags.latest(ds.data_hash).empty
    assert flags.adopt(ds.data_hash, ds.previous_hashes) == 2
    latest = flags.latest(ds.data_hash)
    assert latest["row"].tolist() == sorted([int(ds.row[3]), int(ds.row[5])])
    assert flags.adopt(ds.data_hash, ds.previous_hashes) == 0  # once only
    assert len(flags.latest("another dataset")) == 1  # other data untouched


def test_add_many_is_one_batch_and_remove_undoes_exactly_it(flags):
    flags.add(data_hash=H, row=1, decision="not_error")
    ids = flags.add_many(data_hash=H, rows=np.array([1, 2, 3]), decision="mislabeled", label="sad")
    flags.add(data_hash="other", row=2, decision="not_face")
    assert len(ids) == 3 and ids == sorted(ids)
    assert flags.latest(H)["decision"].tolist() == ["mislabeled"] * 3
    with pytest.raises(FlagError) as e:  # one bad row: nothing of the batch is saved
        flags.add_many(data_hash=H, rows=[4, -1], decision="not_face")
    assert e.value.field == "row" and 4 not in flags.latest(H)["row"].tolist()
    assert flags.remove(data_hash="other", ids=ids) == 0  # ids of another dataset are left alone
    assert flags.remove(data_hash=H, ids=ids) == 3
    latest = flags.latest(H)
    assert latest["row"].tolist() == [1] and latest["decision"].tolist() == ["not_error"]  # the earlier decision is back
    assert flags.latest("other")["row"].tolist() == [2]
    many = flags.add_many(data_hash=H, rows=range(1200), decision="duplicate")  # over SQLite's parameter limit
    assert flags.remove(data_hash=H, ids=many) == 1200
