"""DataError: bad input data, with the file, row and field it is about.

Raised by every reader of the data layer (:mod:`fer_core.data.dataset`, :mod:`fer_core.data.layouts`)
and re-exported by :mod:`fer_core.data.dataset`, where callers import it from.
"""
from __future__ import annotations

import os

from fer_core.errors import located


class DataError(ValueError):
    """Bad input data. Attributes `file`, `row` (0-based data row), `field` may be None;
    `line` is the row's 1-based line in the file (row + 2 unless blank lines or quoted line
    breaks come before it); `problem` is the message without the location."""

    def __init__(self, message: str, *, file: str | os.PathLike | None = None,
                 row: int | None = None, field: str | None = None, line: int | None = None):
        self.file, self.row, self.field = (str(file) if file is not None else None), row, field
        self.problem = message
        self.line = line if line is not None else (row + 2 if row is not None else None)
        super().__init__(located(message, file=file, place=f"row {row} (line {self.line})" if row is not None else None,
                                 field=field))
