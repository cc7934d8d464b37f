"""The FER2013 CSV is parsed in chunks into one preallocated array: the same arrays and the same
located errors (file, row, line, field) as a whole-file parse, wherever the bad row lies."""
import numpy as np
import pytest
from fer_testutils import make_pixels, write_fer_csv
from fuzz_files import fer_rows, fuzz_fer_csv

from fer_core.data import dataset as dsmod
from fer_core.data.dataset import DataError, read_fer2013_csv

WHOLE = 10**9  # one chunk: what the reader did before it read in chunks


def _outcome(path):
    try:
        out = read_fer2013_csv(path)
    except DataError as e:
        return ("error", str(e), e.row, e.line, e.field)
    return ("ok", out["images"].tobytes(), out["labels"].tolist(), out["split"].tolist(), out["row"].tolist())


def test_every_fuzzed_file_reads_the_same_in_chunks_of_three(tmp_path, monkeypatch):
    wrong = []
    for case in fuzz_fer_csv(fer_rows(np.random.default_rng(0), 8)):
        path = tmp_path / case.name
        path.write_bytes(case.data)
        monkeypatch.setattr(dsmod, "_CSV_CHUNK_ROWS", WHOLE)
        whole = _outcome(path)
        monkeypatch.setattr(dsmod, "_CSV_CHUNK_ROWS", 3)
        if (chunked := _outcome(path)) != whole:
            wrong.append(f"{case.name}: {whole[:1] + whole[2:] if whole[0] == 'error' else 'ok'} -> "
                         f"{chunked[1] if chunked[0] == 'error' else 'ok'}")
    assert not wrong, "\n".join(wrong)


@pytest.fixture
def ten_rows(rng):
    pix = make_pixels(rng, 10)
    return [(i % 7, pix[i], "Training") for i in range(10)]


def test_bad_rows_in_a_later_chunk_are_located(tmp_path, ten_rows, monkeypatch):
    monkeypatch.setattr(dsmod, "_CSV_CHUNK_ROWS", 3)
    good = write_fer_csv(tmp_path / "good.csv.gz", ten_rows, gz=True)
    out = read_fer2013_csv(good)
    want = np.array([np.array(p.split(), np.uint8) for _, p, _ in ten_rows]).reshape(10, 48, 48)
    np.testing.assert_array_equal(out["images"], want)
    assert out["images"].flags.c_contiguous and out["images"].dtype == np.uint8

    rows = list(ten_rows)
    rows[8] = (rows[8][0], rows[8][1].replace(" ", " x", 1), "Training")  # non-numeric pixel in chunk 3
    with pytest.raises(DataError, match=r"bad\.csv, row 8 \(line 10\), field 'pixels'") as e:
        read_fer2013_csv(write_fer_csv(tmp_path / "bad.csv", rows))
    assert (e.value.row, e.value.line, e.value.field) == (8, 10, "pixels")

    rows = list(ten_rows)
    rows[1] = (rows[1][0], "1 2 3", "Training")  # short pixels in chunk 1 ...
    rows[7] = (9, rows[7][1], "Training")       # ... and an emotion out of range in chunk 3: the emotion
    with pytest.raises(DataError, match=r"row 7 \(line 9\), field 'emotion'"):  # column is checked first,
        read_fer2013_csv(write_fer_csv(tmp_path / "both.csv", rows))             # as in a whole-file parse

    text = (tmp_path / "bad.csv").read_text().splitlines()
    text[9] = text[9] + ",extra"  # row 8: a field too many
    (tmp_path / "extra.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"extra\.csv, row 8 \(line 10\): malformed CSV"):
        read_fer2013_csv(tmp_path / "extra.csv")


def test_line_count_bounds_the_rows(tmp_path, ten_rows):
    path = write_fer_csv(tmp_path / "f.csv.gz", ten_rows, gz=True)
    assert dsmod._count_lines(path) >= 10
    assert dsmod._count_lines(tmp_path / "missing.csv") == 0
