"""Malformed FER2013 / FER+ CSV fuzzing (cases from tests/fuzz_files.py): every file either loads
as it should or raises DataError naming the file, and the row, field and line when the fault
is in one row; never another exception type.

(A truncated or corrupt cache artifact being rebuilt is tests/test_store.py's
test_corrupt_artifact_is_rebuilt.)
"""
import numpy as np
import pytest

from fer_core.data.dataset import DataError, load_dataset, read_fer2013_csv, read_ferplus_csv
from fuzz_files import ANY_FIELD, BAD, OK, fer_rows, fuzz_fer_csv, fuzz_ferplus_csv

N_ROWS = 8


@pytest.fixture(scope="module")
def rows():
    return fer_rows(np.random.default_rng(0), N_ROWS)


@pytest.fixture(scope="module")
def reference(rows):
    """What the valid file holds: images (N, 48, 48), labels, split."""
    images = np.array([np.array(r[1].split(), np.uint8).reshape(48, 48) for r in rows])
    return images, np.array([int(r[0]) for r in rows]), np.array([r[2] for r in rows])


def check(case, path, read):
    """Read `path` with `read`; return a description of what went wrong, or None."""
    try:
        out = read(path)
    except DataError as e:
        msg = str(e)
        if e.file != str(path) or not msg.startswith(path.name):
            return f"DataError does not name the file: {msg}"
        if case.expect == OK:
            return f"refused a valid file: {msg}"
        if case.row is not None:
            if e.row != case.row or e.line != case.line or case.field not in (ANY_FIELD, e.field):
                return f"wrong place: row {e.row} field {e.field} line {e.line}, planted row {case.row} " \
                       f"field {case.field} line {case.line}: {msg}"
            if f"row {case.row} (line {case.line})" not in msg or (e.field and f"field '{e.field}'" not in msg):
                return f"the message does not say where: {msg}"
        if not 20 <= len(msg) <= 600 or "Traceback" in msg or "np.str_" in msg:
            return f"unclear message: {msg!r}"
        return None
    except Exception as e:  # noqa: BLE001 - the point of the test
        return f"{type(e).__name__} instead of DataError: {e}"
    if case.expect == BAD:
        return "loaded a file that must be refused"
    return ("loaded", out)


def test_the_generated_files_are_many_and_of_every_kind(rows):
    cases = fuzz_fer_csv(rows) + fuzz_ferplus_csv(rows)
    assert len(cases) >= 150 and len({c.name for c in cases}) == len(cases)
    names = " ".join(c.name for c in cases)
    for kind in ("trunc-", "extra-field", "missing-usage", "non-numeric-pixel", "too-few-pixels", "too-many-pixels",
                 "bad-usage", "bad-emotion", "valid-variant", "blank-lines", "unterminated-quote", "gzip-trunc",
                 "gzip-flip", "gzip-named", "fp-bad-vote", "fp-missing-votes", "fp-usage-not-aligned"):
        assert kind in names, kind


def test_fer2013_variants_load_or_name_file_row_field(rows, reference, tmp_path):
    images, labels, split = reference
    wrong, counts = [], {"loaded": 0, "refused": 0}
    for case in fuzz_fer_csv(rows):
        path = tmp_path / case.name
        path.write_bytes(case.data)
        res = check(case, path, read_fer2013_csv)
        if isinstance(res, tuple):
            counts["loaded"] += 1
            out = res[1]
            k = len(out["labels"])
            if case.rows is not None and k != case.rows:
                wrong.append(f"{case.name}: loaded {k} rows, expected {case.rows}")
            elif case.expect == OK and not (np.array_equal(out["images"], images[:k])
                                            and np.array_equal(out["labels"], labels[:k])
                                            and np.array_equal(out["split"], split[:k])):
                wrong.append(f"{case.name}: loaded, but not the original rows")
        elif res is not None:
            wrong.append(f"{case.name}: {res}")
        else:
            counts["refused"] += 1
    assert not wrong, "\n".join(wrong)
    assert counts["loaded"] >= 12 and counts["refused"] >= 80, counts


def test_ferplus_variants_load_or_name_file_row_field(rows, tmp_path):
    split = np.array([r[2] for r in rows])
    wrong = []
    for case in fuzz_ferplus_csv(rows):
        path = tmp_path / case.name
        path.write_bytes(case.data)
        res = check(case, path, lambda p: read_ferplus_csv(p, expected_rows=N_ROWS, expected_split=split,
                                                            fer_path="fer2013.csv"))
        if isinstance(res, tuple):
            fp = res[1]
            if fp.votes.shape != (N_ROWS, 10) or (case.expect == OK and case.name != "fp-valid-variant-4.csv"
                                                 and fp.not_face.any()):
                wrong.append(f"{case.name}: loaded wrongly: {fp.votes.shape}, not_face {fp.not_face.tolist()}")
        elif res is not None:
            wrong.append(f"{case.name}: {res}")
    assert not wrong, "\n".join(wrong)


def test_through_load_dataset_and_its_cache(rows, tmp_path):
    """The dashboard's entry point (parse inside the artifact cache) raises the same errors,
    caches nothing for a bad file, and then serves the fixed file."""
    from fer_core.store import Store

    store = Store(tmp_path / "cache")
    fer = {c.name: c for c in fuzz_fer_csv(rows)}
    fp = {c.name: c for c in fuzz_ferplus_csv(rows)}
    good, bad = tmp_path / "fer2013.csv", tmp_path / "bad.csv.gz"
    good.write_bytes(fer["valid.csv"].data)
    bad.write_bytes(fer["gzip-of-bad-usage.csv.gz"].data)
    with pytest.raises(DataError) as e:
        load_dataset(bad, store=store)
    assert (e.value.row, e.value.field, e.value.line) == (5, "Usage", 7)
    assert "bad.csv.gz, row 5 (line 7)" in str(e.value)
    assert store.list("dataset") == []
    for name in ("fp-bad-vote-0.csv", "fp-one-row-short.csv", "fp-usage-not-aligned.csv"):
        p = tmp_path / name
        p.write_bytes(fp[name].data)
        with pytest.raises(DataError, match=name.replace(".", r"\.")):
            load_dataset(good, p, store=store)
    p = tmp_path / "fer2013new.csv"
    p.write_bytes(fp["fp-valid-variant-2.csv"].data)  # blank lines between the rows
    ds = load_dataset(good, p, store=store)
    assert len(ds) == N_ROWS and ds.ferplus is not None and len(store.list("dataset")) == 1
    bad.write_bytes(fer["valid-variant-1.csv"].data)  # fixed (CRLF): loads
    assert len(load_dataset(bad, store=store)) == N_ROWS


def test_cli_reports_a_bad_file_without_a_traceback(rows, tmp_path, capsys):
    from fer_core.data.dataset import main

    case = next(c for c in fuzz_fer_csv(rows) if c.name == "blank-lines-then-bad-usage.csv")
    path = tmp_path / case.name
    path.write_bytes(case.data)
    assert main([str(path), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {case.name}, row 4 (line 8), field 'Usage': unknown Usage 'Nope'")
    assert "Traceback" not in err
