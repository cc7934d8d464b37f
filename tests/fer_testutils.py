"""Small planted-data builders shared by the tests."""
import gzip
from pathlib import Path


def make_pixels(rng, n):
    return [" ".join(map(str, rng.integers(0, 256, 2304))) for _ in range(n)]


def write_fer_csv(path: Path, rows: list[tuple], *, header="emotion,pixels,Usage", gz=False):
    """rows: (emotion, pixels_str, usage) tuples written verbatim."""
    text = header + "\n" + "".join(f"{e},{p},{u}\n" for e, p, u in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path
