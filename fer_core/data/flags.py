"""Reviewers' decisions about single images ("flags"), kept in SQLite, with CSV export/import.

A flag is one decision about one image of one dataset: the dataset's ``data_hash``, the image's
``row`` (``Dataset.row``: its row in the source file), a decision from :data:`DECISIONS`, an
optional corrected FER2013 label (``mislabeled`` only) and a free-text note. Every decision is
kept (``history``); the newest one per image is what counts (``latest``); ``undo`` removes the
newest decision of a dataset.

Storage: one SQLite file, by default ``cache/flags.sqlite`` (``Store().file_path``), in WAL
mode with a busy timeout, so several processes (two browser tabs, a script) can write at once
without losing a flag, and a process killed mid-write leaves every committed flag readable.
User text is only ever bound as an SQL parameter.

CSV format (``export_csv`` writes it, ``import_csv`` and ``read_corrections`` read it)::

    row,original_label,corrected_label,decision,note
    17,fear,sad,mislabeled,eyes closed
    23,happy,,not_face,cartoon

Labels are FER2013 class names (``fer_core.constants.FER2013_EMOTIONS``); readers also accept
the indices 0..6. ``original_label`` is for people reading the file and is not read back.

Example:
    >>> flags = FlagStore("/tmp/flags.sqlite")
    >>> flags.add(data_hash=ds.data_hash, row=17, decision="mislabeled", label=4, note="eyes closed")
    >>> flags.latest(ds.data_hash)          # one row per reviewed image
    >>> text = flags.export_csv(ds.data_hash, labels_by_row)
"""
from __future__ import annotations

import csv
import io
import os
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fer_core.constants import FER2013_EMOTIONS
from fer_core.errors import located

#: What a reviewer can say about an image.
#: mislabeled: the FER2013 label is wrong (a corrected label may be given);
#: not_error: reviewed, the label is right; not_face: no usable face (blank, text, cartoon);
#: duplicate: a copy of another image (drop it).
DECISIONS: tuple[str, ...] = ("mislabeled", "not_error", "not_face", "duplicate")
#: Other spellings readers accept for a decision (after lower-casing, spaces/hyphens -> "_").
DECISION_ALIASES = {"mislabelled": "mislabeled", "not_a_face": "not_face", "noface": "not_face",
                    "ok": "not_error", "correct": "not_error", "not_an_error": "not_error",
                    "duplicated": "duplicate"}
CSV_COLUMNS: tuple[str, ...] = ("row", "original_label", "corrected_label", "decision", "note")
#: Seconds a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 30.0
_SCHEMA_VERSION = 1
_MAX_NOTE = 10_000


class FlagError(ValueError):
    """Bad flag input. For CSV input, `csv_row` is the 1-based data row (the header is not
    counted; the file line is csv_row + 1) and `field` the column; `file` the path when read
    from a file. Any of them may be None."""

    def __init__(self, message: str, *, file: str | os.PathLike | None = None, csv_row: int | None = None,
                 field: str | None = None):
        self.file = str(file) if file is not None else None
        self.message, self.csv_row, self.field = message, csv_row, field
        super().__init__(located(message, file=file, field=field,
                                 place=f"CSV row {csv_row} (line {csv_row + 1})" if csv_row is not None else None))


# --------------------------------------------------------------------------------------------
# validation shared by add(), import_csv() and read_corrections()
# --------------------------------------------------------------------------------------------
def normalize_decision(value: str) -> str:
    """A decision or one of its aliases ('not a face', 'Mislabelled') -> its name in DECISIONS.

    Raises:
        FlagError: not a known decision.
    """
    d = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    d = DECISION_ALIASES.get(d, d)
    if d not in DECISIONS:
        raise FlagError(f"unknown decision {value!r}; expected one of {', '.join(DECISIONS)}")
    return d


def parse_label(value) -> int | None:
    """A FER2013 label as a class name ('sad'), an index (4, '4') or empty (None) -> int or None.

    Raises:
        FlagError: anything else.
    """
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        lab = int(value)
    else:
        s = str(value).strip().lower()
        if s in ("", "none", "nan", "-1"):
            return None
        if s in FER2013_EMOTIONS:
            return FER2013_EMOTIONS.index(s)
        try:
            lab = int(s)
        except ValueError:
            raise FlagError(f"label {value!r} is not a FER2013 class ({', '.join(FER2013_EMOTIONS)} "
                            f"or 0..{len(FER2013_EMOTIONS) - 1})") from None
    if not 0 <= lab < len(FER2013_EMOTIONS):
        raise FlagError(f"label {lab} out of range 0..{len(FER2013_EMOTIONS) - 1}")
    return lab


def _check_flag(row, decision: str, label, note) -> tuple[int, str, int | None, str]:
    """Validate one flag; FlagError(field=...) naming the bad field."""
    try:
        if isinstance(row, (bool, np.bool_)) or not isinstance(row, (int, np.integer, str)):
            raise ValueError
        r = int(str(row).strip()) if isinstance(row, str) else int(row)
    except ValueError:
        raise FlagError(f"row {row!r} is not an integer", field="row") from None
    if r < 0:
        raise FlagError(f"row {r} is negative", field="row")
    try:
        d = normalize_decision(decision)
    except FlagError as e:
        raise FlagError(e.message, field="decision") from None
    try:
        lab = parse_label(label)
    except FlagError as e:
        raise FlagError(e.message, field="corrected_label") from None
    if lab is not None and d != "mislabeled":
        raise FlagError(f"a corrected label only goes with decision 'mislabeled', not {d!r}",
                        field="corrected_label")
    note = "" if note is None else str(note)
    if len(note) > _MAX_NOTE:
        raise FlagError(f"note is {len(note)} characters; at most {_MAX_NOTE}", field="note")
    return r, d, lab, note


#: A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection"): exported
#: notes that start with one get a leading apostrophe, which import removes again.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """`text` safe to open in a spreadsheet: a leading ' when it starts like a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def unescape_formula(text: str) -> str:
    """The inverse of :func:`escape_formula`."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def _parse_csv(text: str, *, file=None, n_rows: int | None = None, rows=None) -> list[tuple]:
    """Parse and validate a flags CSV completely -> [(row, decision, label, note)], or raise the
    first error as FlagError naming the CSV row and field."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise FlagError("the CSV is empty", file=file)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    reader.fieldnames = cols
    if "row" not in cols or not ({"decision", "corrected_label"} & set(cols)):
        raise FlagError(f"needs columns 'row' and 'decision' (and optionally corrected_label, note); "
                        f"found {cols}", file=file)
    valid = None if rows is None else set(np.asarray(rows).tolist())
    out = []
    try:
        for i, rec in enumerate(reader, start=1):
            if None in rec:  # more fields than header columns
                raise FlagError(f"{len(cols) + len(rec[None])} fields but the header has {len(cols)}",
                                file=file, csv_row=i)
            label = rec.get("corrected_label")
            decision = rec.get("decision")
            if decision is None or not decision.strip():  # a plain corrections file
                if label is None or not label.strip():
                    raise FlagError("no decision and no corrected label", file=file, csv_row=i, field="decision")
                decision = "mislabeled"
            try:
                r, d, lab, note = _check_flag(rec.get("row") or "", decision, label,
                                              unescape_formula(rec.get("note") or ""))
            except FlagError as e:
                raise FlagError(e.message, file=file, csv_row=i, field=e.field) from None
            if n_rows is not None and r >= n_rows:
                raise FlagError(f"row {r} out of range: the dataset has rows 0..{n_rows - 1}",
                                file=file, csv_row=i, field="row")
            if valid is not None and r not in valid:
                raise FlagError(f"row {r} is not an image of this dataset", file=file, csv_row=i, field="row")
            out.append((r, d, lab, note))
    except csv.Error as e:
        raise FlagError(f"malformed CSV: {e}", file=file, csv_row=reader.line_num) from None
    return out


# --------------------------------------------------------------------------------------------
# the store
# --------------------------------------------------------------------------------------------
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS flags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    data_hash TEXT NOT NULL,
    image_row INTEGER NOT NULL CHECK (image_row >= 0),
    decision TEXT NOT NULL CHECK (decision IN ({", ".join(repr(d) for d in DECISIONS)})),
    label INTEGER CHECK (label IS NULL OR (label BETWEEN 0 AND {len(FER2013_EMOTIONS) - 1})),
    note TEXT NOT NULL DEFAULT '',
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS flags_by_image ON flags (data_hash, image_row, id);
PRAGMA user_version = {_SCHEMA_VERSION};
"""


class FlagStore:
    """Decisions about images, persisted in one SQLite file.

    Each call opens its own short-lived connection, so one FlagStore may be shared between
    threads (e.g. through ``st.cache_resource``) and any number of processes may use the same file.

    Args:
        path: the SQLite file; default ``cache/flags.sqlite`` (``Store().file_path``).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        if path is None:
            from fer_core.store import Store
            path = Store().file_path("flags.sqlite")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._init_schema()

    # ---- connections ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        """This thread's connection (opened once per thread and process: closing the last
        connection to a WAL database checkpoints it, which would make every write ~20 ms)."""
        con = getattr(self._local, "con", None)
        if con is not None and self._local.pid == os.getpid():
            return con
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        # WAL + NORMAL: a committed flag survives the writing process being killed; only a power
        # cut or OS crash may roll back the last commits (never corrupting the file)
        con.execute("PRAGMA synchronous = NORMAL")
        self._local.con, self._local.pid = con, os.getpid()
        return con

    def close(self) -> None:
        """Close this thread's connection (a later call opens a new one)."""
        con = getattr(self._local, "con", None)
        if con is not None and self._local.pid == os.getpid():
            con.close()
        self._local.con = None

    def _init_schema(self) -> None:
        # switching to WAL needs a moment alone with the file; when two processes start together
        # one may see "database is locked" before the busy handler applies: retry for a while
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                con = self._connect()
                if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    con.execute("PRAGMA journal_mode = WAL")
                con.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            except sqlite3.DatabaseError as e:
                raise FlagError(f"{self.path} is not a flags database ({e})") from None

    def _write(self, statements: list[tuple[str, tuple]]) -> list[int]:
        """Run INSERT/DELETE statements in one transaction; return each statement's lastrowid."""
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            ids = [con.execute(sql, params).lastrowid for sql, params in statements]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return ids

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        return self._connect().execute(sql, params).fetchall()

    # ---- write -----------------------------------------------------------------------------
    def add(self, *, data_hash: str, row: int, decision: str, label: int | str | None = None,
            note: str = "") -> int:
        """Record one decision about the image at `row` of the dataset `data_hash`.

        Args:
            data_hash: ``Dataset.data_hash`` of the dataset the row belongs to.
            row: the image's ``Dataset.row`` (>= 0).
            decision: one of :data:`DECISIONS` (or an alias such as 'not a face').
            label: corrected FER2013 label (0..6 or a class name), only with 'mislabeled'; None
                when unknown.
            note: free text, stored as given.

        Returns:
            The new flag's id (increasing; never reused, also after an undo).

        Raises:
            FlagError: a bad row, decision, label or note (naming the field).
        """
        if not isinstance(data_hash, str) or not data_hash:
            raise FlagError("data_hash must be a non-empty string", field="data_hash")
        r, d, lab, note = _check_flag(row, decision, label, note)
        return self._write([("INSERT INTO flags (data_hash, image_row, decision, label, note, time) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (data_hash, r, d, lab, note, time.time()))])[0]

    def add_many(self, *, data_hash: str, rows, decision: str, label: int | str | None = None,
                 note: str = "") -> list[int]:
        """Record the same decision about every row of `rows`, in one transaction (all or none).

        Returns:
            The new flags' ids, in the order of `rows` (for :meth:`remove`, an undo of the batch).

        Raises:
            FlagError: a bad row, decision, label or note (naming the field); nothing is saved.
        """
        if not isinstance(data_hash, str) or not data_hash:
            raise FlagError("data_hash must be a non-empty string", field="data_hash")
        checked = [_check_flag(r, decision, label, note) for r in np.asarray(rows).tolist()]
        now = time.time()
        sql = "INSERT INTO flags (data_hash, image_row, decision, label, note, time) VALUES (?, ?, ?, ?, ?, ?)"
        return self._write([(sql, (data_hash, r, d, lab, n, now)) for r, d, lab, n in checked])

    def remove(self, *, data_hash: str, ids) -> int:
        """Delete the decisions `ids` of dataset `data_hash` (ids of another dataset are left
        alone), in one transaction; returns how many were deleted. The undo of :meth:`add_many`."""
        ids = [int(i) for i in ids]
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            n = 0
            for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
                chunk = ids[start:start + 500]
                n += con.execute(f"DELETE FROM flags WHERE data_hash = ? AND id IN ({', '.join('?' * len(chunk))})",
                                 (data_hash, *chunk)).rowcount
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return n

    def adopt(self, data_hash: str, previous_hashes) -> int:
        """Carry the decisions recorded under `previous_hashes` (the same data's hashes in earlier
        versions: ``Dataset.previous_hashes``) over to `data_hash`, in one transaction, keeping their
        order and times; returns how many moved. Nothing is lost: a row already decided under
        `data_hash` keeps its newer decisions after the adopted ones (ids keep the order)."""
        old = [h for h in previous_hashes if h and h != data_hash]
        if not old:
            return 0
        marks = ", ".join("?" * len(old))
        n = self._query(f"SELECT COUNT(*) FROM flags WHERE data_hash IN ({marks})", tuple(old))[0][0]
        if n:
            self._write([(f"UPDATE flags SET data_hash = ? WHERE data_hash IN ({marks})", (data_hash, *old))])
        return int(n)

    def undo(self, *, data_hash: str) -> dict | None:
        """Remove the most recent decision of dataset `data_hash`.

        Returns:
            The removed decision {id, row, decision, label, note, time (unix seconds)}, or None
            when the dataset has none.
        """
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            rec = con.execute("SELECT id, image_row, decision, label, note, time FROM flags "
                              "WHERE data_hash = ? ORDER BY id DESC LIMIT 1", (data_hash,)).fetchone()
            if rec is not None:
                con.execute("DELETE FROM flags WHERE id = ?", (rec[0],))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if rec is None:
            return None
        return dict(zip(("id", "row", "decision", "label", "note", "time"), rec))

    # ---- read ------------------------------------------------------------------------------
    @staticmethod
    def _frame(recs: list[tuple], columns: tuple[str, ...]) -> pd.DataFrame:
        df = pd.DataFrame.from_records(recs, columns=list(columns))
        if "id" in df:
            df["id"] = df["id"].astype("int64")
        df["row"] = df["row"].astype("int64")
        df["decision"] = df["decision"].astype(str)
        df["label"] = df["label"].astype("Int64")
        df["note"] = df["note"].astype(str)
        df["time"] = pd.to_datetime(df["time"].astype("float64"), unit="s", utc=True)
        return df

    def latest(self, data_hash: str) -> pd.DataFrame:
        """The current decision per image: the newest one wins.

        Returns:
            DataFrame sorted by row with columns row (int64), decision (str), label (Int64,
            <NA> when none), note (str), time (datetime64, UTC); empty when nothing is flagged.
        """
        recs = self._query(
            "SELECT f.image_row, f.decision, f.label, f.note, f.time FROM flags AS f "
            "JOIN (SELECT MAX(id) AS id FROM flags WHERE data_hash = ? GROUP BY image_row) AS m "
            "ON f.id = m.id ORDER BY f.image_row", (data_hash,))
        return self._frame(recs, ("row", "decision", "label", "note", "time"))

    def history(self, data_hash: str) -> pd.DataFrame:
        """Every decision of dataset `data_hash`, oldest first.

        Returns:
            DataFrame with columns id, row, decision, label (Int64), note, time (UTC).
        """
        recs = self._query("SELECT id, image_row, decision, label, note, time FROM flags "
                           "WHERE data_hash = ? ORDER BY id", (data_hash,))
        return self._frame(recs, ("id", "row", "decision", "label", "note", "time"))

    def counts(self, data_hash: str) -> dict:
        """{"reviewed": images with a decision, "flagged": images whose current decision is not
        'not_error', and one count per decision in DECISIONS (current decisions)}."""
        recs = self._query(
            "SELECT f.decision, COUNT(*) FROM flags AS f "
            "JOIN (SELECT MAX(id) AS id FROM flags WHERE data_hash = ? GROUP BY image_row) AS m "
            "ON f.id = m.id GROUP BY f.decision", (data_hash,))
        per = {d: 0 for d in DECISIONS}
        per.update({d: int(n) for d, n in recs})
        return {"reviewed": sum(per.values()), "flagged": sum(per.values()) - per["not_error"], **per}

    # ---- CSV -------------------------------------------------------------------------------
    def export_csv(self, data_hash: str, labels: np.ndarray, *, rows: np.ndarray | None = None) -> str:
        """The current decisions as CSV text (columns :data:`CSV_COLUMNS`, labels as class names;
        a note that starts like a spreadsheet formula gets a leading ', see :func:`escape_formula`).

        Args:
            data_hash: the dataset.
            labels: the dataset's FER2013 labels (-1 = unlabeled), indexed by row: ``labels[r]``
                is the label of row r (for a dataset whose rows are 0..N-1, ``Dataset.labels``).
            rows: for a dataset whose rows are not 0..N-1 (the bundled sample), its
                ``Dataset.row``: ``labels[i]`` is then the label of row ``rows[i]``.

        Raises:
            FlagError: a flagged row has no entry in `labels` (flags of another dataset?).
        """
        labels = np.asarray(labels)
        pos = None if rows is None else {int(r): i for i, r in enumerate(np.asarray(rows).tolist())}
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for rec in self.latest(data_hash).itertuples(index=False):
            i = rec.row if pos is None else pos.get(rec.row, -1)
            if not 0 <= i < len(labels):
                raise FlagError(f"flagged row {rec.row} has no label in the {len(labels)} given: "
                                f"are these the labels of dataset {data_hash}?")
            orig = int(labels[i])
            w.writerow([rec.row, FER2013_EMOTIONS[orig] if 0 <= orig < len(FER2013_EMOTIONS) else "",
                        "" if pd.isna(rec.label) else FER2013_EMOTIONS[int(rec.label)], rec.decision,
                        escape_formula(rec.note)])
        return buf.getvalue()

    def import_csv(self, data_hash: str, text: str, *, n_rows: int, rows: np.ndarray | None = None) -> int:
        """Add the decisions of a flags CSV (as :meth:`export_csv` writes it) as new decisions.

        Every line is checked first; on any error nothing is imported.

        Args:
            data_hash: the dataset the decisions are about.
            text: CSV text with columns row and decision (and optionally corrected_label, note;
                other columns are ignored). Labels as class names or 0..6.
            n_rows: rows must be in 0..n_rows-1.
            rows: optionally the dataset's ``Dataset.row``: every row must be one of them.

        Returns:
            The number of decisions imported.

        Raises:
            FlagError: naming the CSV row (1-based, header not counted) and field of the first bad value.
        """
        if not isinstance(data_hash, str) or not data_hash:
            raise FlagError("data_hash must be a non-empty string", field="data_hash")
        parsed = _parse_csv(text, n_rows=n_rows, rows=rows)
        now = time.time()
        sql = "INSERT INTO flags (data_hash, image_row, decision, label, note, time) VALUES (?, ?, ?, ?, ?, ?)"
        self._write([(sql, (data_hash, r, d, lab, note, now)) for r, d, lab, note in parsed])
        return len(parsed)


def read_corrections(path: str | os.PathLike) -> pd.DataFrame:
    """Read a flags CSV (:meth:`FlagStore.export_csv`) for training or evaluation.

    A plain corrections file works too: columns row and corrected_label, no decision (each row
    is then 'mislabeled'). When a row appears twice the later line wins.

    Returns:
        DataFrame with columns row (int64), corrected_label (int64 FER2013 class, -1 = none),
        decision (str, one of DECISIONS), one row per listed image, sorted by row.

    Raises:
        FileNotFoundError: no such file.
        FlagError: a malformed file or value, naming the file, CSV row and field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label corrections file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FlagError(f"cannot read file ({type(e).__name__}: {e})", file=path) from None
    parsed = _parse_csv(text, file=path)
    latest = {r: (r, -1 if lab is None else lab, d) for r, d, lab, _ in parsed}
    df = pd.DataFrame([latest[r] for r in sorted(latest)], columns=["row", "corrected_label", "decision"])
    return df.astype({"row": "int64", "corrected_label": "int64", "decision": str})
