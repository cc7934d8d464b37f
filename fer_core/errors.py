"""Error messages that say where the problem is: '<file name>, <place>, field 'x': <problem>'.

Shared by the data readers (fer_core.data.dataset.DataError) and the flag store (fer_core.data.flags.FlagError).
"""
from __future__ import annotations

import os
from pathlib import Path


def located(message: str, *, file: str | os.PathLike | None = None, place: str | None = None,
            field: str | None = None) -> str:
    """`message` prefixed with the parts of its location that are known.

    Example:
        >>> located("expected 2304 pixel values", file="/d/fer2013.csv", place="row 4 (line 6)", field="pixels")
        "fer2013.csv, row 4 (line 6), field 'pixels': expected 2304 pixel values"
    """
    where = [Path(file).name] if file is not None else []
    where += [place] if place is not None else []
    where += [f"field {field!r}"] if field is not None else []
    return f"{', '.join(where)}: {message}" if where else message
