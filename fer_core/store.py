"""Content-addressed artifact cache: the only code that reads or writes `cache/`.

An artifact lives in ``cache/<stage>/<key>/`` with three files:

* ``data.npz``   the arrays (uncompressed, so loading is a memory copy),
* ``config.json`` the stage config that produced it,
* ``meta.json``  stage, key, data hash, model hash, package version, creation time, the
  sha256 and byte size of ``data.npz`` (written last: an artifact without a valid
  ``meta.json`` is incomplete).

The key hashes the stage name, its config, the data hash, the model hash and the package
version, never a path. Writes go to a temporary folder that is renamed into place, so a
killed process never leaves a half-written artifact that loads; a folder whose checksum does
not match is treated as missing, removed and rebuilt.

A read that misses the cache looks in the *seed*, ``fer_core/data/sample/artifacts/``: the
bundled sample's artifacts for the shipped default model, built by ``scripts/make_seed.py`` and
shipped, so that a fresh install opens every page on the sample without computing. The seed is
read-only and keyed like the cache, so it can only ever answer for exactly the inputs it was
built from (``tests/test_seed.py`` fails when a model or stage change leaves it stale).
``FER_SEED_CACHE=0`` turns it off (the tests do, but for the seed's own).

Example:
    >>> store = Store("/tmp/fer-cache")
    >>> arrays = store.get_or_compute("pca", {"k": 50}, lambda: {"x": np.zeros(3)},
    ...                               data_hash="abc")
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from fer_core import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Environment variable that moves the cache (tests point it at a temporary folder).
CACHE_ENV = "FER_CACHE_DIR"
#: the shipped, read-only artifacts of the bundled sample (see the module docstring)
SEED_DIR = Path(__file__).resolve().parent / "data" / "sample" / "artifacts"
#: "0" = do not read the seed
SEED_ENV = "FER_SEED_CACHE"
_DATA = "data.npz"
_META = "meta.json"
_CONFIG = "config.json"


def default_cache_dir() -> Path:
    """`$FER_CACHE_DIR` when set, else `<repo>/cache`."""
    return Path(os.environ.get(CACHE_ENV) or REPO_ROOT / "cache")


def hash_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Hex blake2b-128 digest of a file's bytes (about 0.2 s for the 94 MB fer2013.csv.gz)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_bytes(*parts: bytes | str) -> str:
    """Hex blake2b-128 digest of several byte strings, separated so ("ab","c") != ("a","bc")."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


#: sha256 of files already read: (path, inode, size, mtime_ns, ctime_ns) -> digest. A page asks
#: whether its artifacts exist on every rerun; hashing a 70 MB data.npz each time took 0.3 s.
_DIGESTS: dict[tuple, str] = {}
#: Only files unchanged for this long are remembered: a write within the file system's timestamp
#: granularity (a corruption right after a save) could otherwise keep the old stamp.
_SETTLED_S = 2.0


def _sha256_once(path: Path, st: os.stat_result) -> str:
    stamp = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if (digest := _DIGESTS.get(stamp)) is None:
        digest = _sha256(path)
        if time.time() - max(st.st_mtime, st.st_ctime) > _SETTLED_S:
            if len(_DIGESTS) > 4096:
                _DIGESTS.clear()
            _DIGESTS[stamp] = digest
    return digest


class Store:
    """Artifact cache rooted at `root` (default: :func:`default_cache_dir`), with a read-only seed
    consulted on a miss (default: :data:`SEED_DIR` unless ``$FER_SEED_CACHE`` is "0"; None: none)."""

    def __init__(self, root: str | os.PathLike | None = None, *, seed: str | os.PathLike | None | bool = True):
        self.root = Path(root) if root is not None else default_cache_dir()
        if seed is True:
            seed = SEED_DIR if os.environ.get(SEED_ENV, "1") != "0" else None
        self.seed = Path(seed) if seed else None

    def _folder(self, stage: str, key: str) -> Path:
        """Where (stage, key) is read from: the cache's folder, or the seed's when only it holds a
        valid copy."""
        folder = self.path(stage, key)
        if self.seed is not None and not folder.exists():
            seeded = self.seed / stage / key
            if self._valid_meta(seeded) is not None:
                return seeded
        return folder

    # ---- keys and paths -------------------------------------------------------------------
    @staticmethod
    def key(stage: str, config: Mapping[str, Any], *, data_hash: str = "", model_hash: str = "") -> str:
        """Content key: hash of stage, config, data hash, model hash and package version."""
        return hash_bytes(stage, _canonical(dict(config)), data_hash, model_hash, __version__)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    # ---- read ----------------------------------------------------------------------------
    def exists(self, stage: str, key: str) -> bool:
        """True when a complete, checksum-valid artifact is stored under (stage, key)."""
        return self._valid_meta(self._folder(stage, key)) is not None

    def _valid_meta(self, folder: Path) -> dict | None:
        try:
            meta = json.loads((folder / _META).read_text())
            data = folder / _DATA
            st = data.stat()
            if st.st_size != meta["size"] or _sha256_once(data, st) != meta["sha256"]:
                return None
            return meta
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def load(self, stage: str, key: str) -> dict[str, np.ndarray] | None:
        """The stored arrays (from the cache, else the seed), or None when missing. A corrupt
        artifact in the cache is removed, then None."""
        folder = self._folder(stage, key)
        if not folder.exists():
            return None
        seeded = folder != self.path(stage, key)
        if self._valid_meta(folder) is None:
            if not seeded:
                shutil.rmtree(folder, ignore_errors=True)
            return None
        try:
            with np.load(folder / _DATA, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            if not seeded:
                shutil.rmtree(folder, ignore_errors=True)
            return None

    def meta(self, stage: str, key: str) -> dict | None:
        """meta.json of a valid artifact (None when missing or corrupt)."""
        return self._valid_meta(self._folder(stage, key))

    def config(self, stage: str, key: str) -> dict | None:
        try:
            return json.loads((self._folder(stage, key) / _CONFIG).read_text())
        except (OSError, ValueError):
            return None

    # ---- write ---------------------------------------------------------------------------
    def save(self, stage: str, key: str, arrays: Mapping[str, np.ndarray], *,
             config: Mapping[str, Any], data_hash: str = "", model_hash: str = "",
             extra_meta: Mapping[str, Any] | None = None) -> Path:
        """Write an artifact atomically (temporary folder, then rename) and return its folder."""
        stage_dir = self.root / stage
        stage_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=stage_dir))
        try:
            with open(tmp / _DATA, "wb") as f:
                np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
                f.flush()
                os.fsync(f.fileno())
            (tmp / _CONFIG).write_text(json.dumps(dict(config), indent=2, sort_keys=True, default=str))
            meta = {"stage": stage, "key": key, "data_hash": data_hash, "model_hash": model_hash,
                    "version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "sha256": _sha256(tmp / _DATA), "size": (tmp / _DATA).stat().st_size,
                    "arrays": {k: [list(np.shape(v)), str(np.asarray(v).dtype)] for k, v in arrays.items()},
                    **dict(extra_meta or {})}
            (tmp / _META).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
            final = self.path(stage, key)
            if final.exists():  # a stale or concurrent copy: replace it
                trash = stage_dir / f".old-{uuid.uuid4().hex}"
                try:
                    os.rename(final, trash)
                    shutil.rmtree(trash, ignore_errors=True)
                except OSError:
                    pass
            try:
                os.rename(tmp, final)
            except OSError:  # another process won the race with an identical artifact
                if not self.exists(stage, key):
                    raise
            return final
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def get_or_compute(self, stage: str, config: Mapping[str, Any],
                       compute: Callable[[], Mapping[str, np.ndarray]], *, data_hash: str = "",
                       model_hash: str = "", extra_meta: Mapping[str, Any] | None = None
                       ) -> dict[str, np.ndarray]:
        """Load (stage, config, hashes) from the cache, or run `compute()` and store its arrays."""
        key = self.key(stage, config, data_hash=data_hash, model_hash=model_hash)
        cached = self.load(stage, key)
        if cached is not None:
            return cached
        t0 = time.perf_counter()
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        seconds = round(time.perf_counter() - t0, 3)
        self.save(stage, key, arrays, config=config, data_hash=data_hash, model_hash=model_hash,
                  extra_meta={"compute_seconds": seconds, **dict(extra_meta or {})})
        return arrays

    def list(self, stage: str | None = None) -> list[dict]:
        """meta.json of every valid artifact (of one stage, or all)."""
        stages = [stage] if stage else sorted(p.name for p in self.root.glob("*") if p.is_dir())
        out = []
        for s in stages:
            for folder in sorted((self.root / s).glob("[!.]*")):
                m = self._valid_meta(folder)
                if m is not None:
                    out.append(m)
        return out

    # ---- small files: settings, flag database -------------------------------------------
    def read_json(self, name: str, default: Any = None) -> Any:
        """A small JSON file under the cache root (e.g. dashboard settings); default if absent or bad."""
        try:
            return json.loads((self.root / name).read_text())
        except (OSError, ValueError):
            return default

    def write_json(self, name: str, obj: Any) -> None:
        """Atomically write a small JSON file under the cache root."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
        os.replace(tmp, self.root / name)

    def file_path(self, name: str) -> Path:
        """Path of a named file under the cache root (e.g. ``flags.sqlite``); creates the root."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / name
