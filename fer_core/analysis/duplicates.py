"""Exact and near-duplicate images: groups, a per-group table, and test-split leakage.

Arrays in, arrays out: the finders take `images` (N, 48, 48) uint8 and return `groups`, an
(N,) int64 group id per image (0..G-1, numbered by first appearance; -1 = no duplicate).

* :func:`exact_groups`: pixel-identical images (one hash per image), 0.3 s on FER2013.
* :func:`near_duplicate_groups`: the same photo re-encoded (JPEG), shifted by up to
  `max_shift` pixels, with its brightness/contrast changed or with mild noise. Two stages:

  1. candidates: Pearson correlation >= 0.88 between 16x16 thumbnails of the images blurred
     with a Gaussian (sigma 2 px); up to `exact_max` images (50,000: FER2013 itself) all of the
     N^2/2 pairs, pruned in blocks by an exact PCA bound; above it (the N^2 blocks would take
     ~10 min at 350,000 images), the pairs among each thumbnail's 20 nearest others in an
     approximate neighbour graph (NN-descent, :mod:`fer_core.analysis.neighbors`; ~N^1.1). On
     FER2013 the 20 nearest hold 99.8% of the near-duplicate pairs the exact search finds (the
     rest sit in dense groups, which stay linked through other pairs; bench/RESULTS.md);
  2. verification: normalized template matching (OpenCV ``TM_CCOEFF_NORMED``) of the central
     (48 - 2 * max_shift)^2 crop of one image over the other at full resolution, i.e. the best
     Pearson correlation over all shifts of up to `max_shift` px. Pairs scoring >= `threshold`
     are near duplicates; groups are the connected components of those pairs.

  The default threshold 0.90 was chosen on the full FER2013 (bench/RESULTS.md): in random samples
  of pairs, 38 of 40 scoring 0.90-0.915 and 40 of 40 above were the same photo (the exceptions:
  face-morph stock images of different people warped to one template); below ~0.87 most pairs
  are different people. Planted copies score (1st percentile): JPEG quality 20 0.93, shifts of
  1-2 px 1.00, brightness +40 0.96 (clipped highlights lower it), Gaussian noise sigma 8 0.95.
  Rescaled copies (5% zoom: 5th percentile 0.89) are only partly caught, mirrored ones not at all.
  About 20-25 s on FER2013 (one CPU core), so :func:`duplicate_groups` caches it.

Blank images (every pixel the same value: FER2013 has 12 all-black ones) are never grouped:
they are not faces, and counting them would make all of them "duplicates" of each other
(``evaluate.duplicate_twins`` does count them, hence its 289 PrivateTest twins against 288 here).

Example:
    >>> groups = exact_groups(ds.images)
    >>> duplicate_table(groups, ds.labels, ds.split, ds.row).query("conflicting_labels")
    >>> leakage(groups, ds.split)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from fer_core import stages
from fer_core import validate
from fer_core.config import NearDuplicatesConfig
from fer_core.constants import IMAGE_SIZE, SPLITS
from fer_core.stages import Stage, register

#: Default near-duplicate threshold: best Pearson correlation over shifts of <= MAX_SHIFT px.
NEAR_THRESHOLD = NearDuplicatesConfig().threshold  # 0.90 (the config holds the defaults)
MAX_SHIFT = NearDuplicatesConfig().max_shift  # 2
#: Stage-1 candidate threshold on the blurred 16x16 thumbnails (recall: on FER2013 about 1% of
#: the pairs scoring >= 0.90 have thumbnails correlating at 0.85-0.88 and are missed).
CANDIDATE_CORR = 0.88
_THUMB, _SIGMA, _PCA_DIMS, _BLOCK = 16, 2.0, 48, 1024
#: Above this many images, candidates come from an approximate neighbour graph of the thumbnails.
EXACT_MAX = NearDuplicatesConfig().exact_max
#: Neighbours per thumbnail in that graph.
APPROX_K = 20
#: Candidate pairs whose thumbnails are gathered at once in the approximate search (memory bound).
PAIR_CHUNK = 200_000
#: Bump when the finders' output changes, so cached groups are rebuilt.
DUPLICATES_VERSION = 1


def _check_images(images) -> np.ndarray:
    return np.ascontiguousarray(validate.images(images))


def _blank(images: np.ndarray) -> np.ndarray:
    flat = images.reshape(len(images), IMAGE_SIZE * IMAGE_SIZE)
    return flat.min(1, initial=255) == flat.max(1, initial=0)


def _number_groups(key: np.ndarray, member: np.ndarray) -> np.ndarray:
    """(N,) any group key + (N,) bool member -> (N,) int64 ids 0..G-1 in order of first
    appearance for keys shared by >= 2 members, -1 elsewhere."""
    out = np.full(len(key), -1, np.int64)
    idx = np.flatnonzero(member)
    if len(idx) == 0:
        return out
    _, first, inv, cnt = np.unique(key[idx], return_index=True, return_inverse=True, return_counts=True)
    shared = np.flatnonzero(cnt > 1)
    new_id = np.full(len(cnt), -1, np.int64)
    new_id[shared[np.argsort(first[shared], kind="stable")]] = np.arange(len(shared))
    out[idx] = new_id[inv.reshape(-1)]
    return out


# --------------------------------------------------------------------------------------------
# exact
# --------------------------------------------------------------------------------------------
def exact_groups(images: np.ndarray, *, ignore_blank: bool = True) -> np.ndarray:
    """Groups of pixel-identical images.

    Args:
        images: (N, 48, 48) uint8.
        ignore_blank: leave images whose pixels all have one value out of every group.

    Returns:
        (N,) int64 group id (0..G-1, by first appearance), -1 for images without an identical twin.

    Example:
        >>> exact_groups(np.stack([a, b, a]))
        array([ 0, -1,  0])
    """
    images = _check_images(images)
    if len(images) == 0:
        return np.zeros(0, np.int64)
    from fer_core.training.evaluate import image_hashes
    member = ~_blank(images) if ignore_blank else np.ones(len(images), bool)
    return _number_groups(image_hashes(images), member)


# --------------------------------------------------------------------------------------------
# near
# --------------------------------------------------------------------------------------------
def _thumbnails(images: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 -> (N, 256) float32 zero-mean unit-norm thumbnails of the Gaussian-
    blurred images (all-zero rows for images without contrast)."""
    from scipy.ndimage import gaussian_filter1d
    k = gaussian_filter1d(np.eye(IMAGE_SIZE), _SIGMA, axis=0, mode="reflect")  # k @ v blurs a column
    box = np.kron(np.eye(_THUMB), np.full((1, IMAGE_SIZE // _THUMB), _THUMB / IMAGE_SIZE))
    g = (box @ k).astype(np.float32)  # (16, 48): blur, then 3x3 box average
    out = np.empty((len(images), _THUMB * _THUMB), np.float32)
    for s in range(0, len(images), 4096):
        x = images[s:s + 4096].astype(np.float32)
        out[s:s + 4096] = (g @ x @ g.T).reshape(len(x), -1)
    out -= out.mean(1, keepdims=True)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=np.zeros_like(out), where=norm > 1e-3)


def _candidate_pairs(x: np.ndarray, corr: float, progress: bool) -> np.ndarray:
    """Pairs (i < j) of unit rows of `x` with x_i . x_j >= corr, exactly.

    Blocks of rows are compared in a PCA projection p (first _PCA_DIMS components); with the
    residual norms r, x_i . x_j <= p_i . p_j + r_i r_j, so only pairs passing that bound get the
    full dot product."""
    n = len(x)
    _, vecs = np.linalg.eigh(x.T.astype(np.float64) @ x)
    v = vecs[:, ::-1][:, :_PCA_DIMS].astype(np.float32)
    p = x @ v
    r = np.sqrt(np.clip((x * x).sum(1) - (p * p).sum(1), 0, None)) + 1e-4  # + float32 slack
    pairs = []
    from tqdm.auto import tqdm
    for s in tqdm(range(0, n, _BLOCK), desc="near duplicates: candidates", unit="block", disable=not progress):
        bound = p[s:s + _BLOCK] @ p[s:].T
        bound += r[s:s + _BLOCK, None] * r[None, s:]
        i, j = np.nonzero(bound >= corr)
        keep = j > i
        i, j = i[keep] + s, j[keep] + s
        exact = np.einsum("ij,ij->i", x[i], x[j]) >= corr
        pairs.append(np.stack([i[exact], j[exact]], 1))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)


def _candidate_pairs_approx(x: np.ndarray, corr: float, k: int) -> np.ndarray:
    """Pairs (i < j) of unit rows of `x` with x_i . x_j >= corr among each row's k nearest others
    in an approximate neighbour graph (pynndescent): ~N^1.1 instead of N^2, at the cost of the
    pairs of a row with more than k others closer than its partner (dense groups)."""
    from fer_core.analysis import neighbors
    idx, _ = neighbors.knn_graph(x, k=min(k, len(x) - 1), exact_max=0, seed=0)
    i = np.repeat(np.arange(len(x), dtype=np.int64), idx.shape[1])
    j = idx.ravel()
    i, j = np.minimum(i, j), np.maximum(i, j)
    pairs = np.unique(np.stack([i, j], 1), axis=0)
    # the rows of a pair gathered in chunks: all at once, 350k faces x 20 neighbours gathered two
    # (P, 256) float32 copies, 13 GB (bench_scale, 350k); chunks of PAIR_CHUNK pairs take 0.2 GB
    exact = np.zeros(len(pairs), bool)
    for s in range(0, len(pairs), PAIR_CHUNK):
        p = pairs[s:s + PAIR_CHUNK]
        exact[s:s + PAIR_CHUNK] = np.einsum("ij,ij->i", x[p[:, 0]], x[p[:, 1]]) >= corr
    return pairs[exact]


def _match_scores(images: np.ndarray, pairs: np.ndarray, max_shift: int, progress: bool) -> np.ndarray:
    """(P,) best Pearson correlation of images[i] and images[j] over shifts of <= max_shift px."""
    import cv2
    from tqdm.auto import tqdm
    m = max_shift
    out = np.empty(len(pairs), np.float32)
    for k in tqdm(range(len(pairs)), desc="near duplicates: verify", unit="pair", disable=not progress,
                  mininterval=1.0):
        i, j = pairs[k]
        fi, fj = images[i].astype(np.float32), images[j].astype(np.float32)  # not all N: 4x the images' bytes
        tpl = fj[m:IMAGE_SIZE - m, m:IMAGE_SIZE - m] if m else fj
        out[k] = cv2.matchTemplate(fi, tpl, cv2.TM_CCOEFF_NORMED).max()
    return np.nan_to_num(out, nan=0.0)


def near_duplicate_pairs(images: np.ndarray, *, threshold: float = NEAR_THRESHOLD, max_shift: int = MAX_SHIFT,
                         candidate_corr: float = CANDIDATE_CORR, ignore_blank: bool = True,
                         exact_max: int = EXACT_MAX, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of near-duplicate images and their scores (see the module docstring for the method).

    Args:
        images: (N, 48, 48) uint8.
        threshold: minimum score, the best Pearson correlation (-1..1) over shifts of up to
            `max_shift` px; higher = stricter.
        max_shift: largest shift in pixels that is searched (0..8).
        candidate_corr: stage-1 threshold on the blurred 16x16 thumbnails; lower = slower, finds
            a few more pairs.
        ignore_blank: leave out images whose pixels all have one value.
        exact_max: every pair of thumbnails is compared up to this many images; above, the pairs
            among each one's APPROX_K nearest others in an approximate neighbour graph.
        progress: tqdm bars.

    Returns:
        (pairs (P, 2) int64 indices i < j, scores (P,) float32 in -1..1), sorted by pair.
    """
    images = _check_images(images)
    if not 0 <= max_shift <= 8 or int(max_shift) != max_shift:
        raise ValueError(f"max_shift must be an integer in 0..8, got {max_shift}")
    if not -1 <= threshold <= 1 or not -1 <= candidate_corr <= 1:
        raise ValueError(f"threshold and candidate_corr must be in -1..1, got {threshold}, {candidate_corr}")
    use = np.flatnonzero(~_blank(images)) if ignore_blank else np.arange(len(images))
    if len(use) < 2:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    thumbs = _thumbnails(images[use])
    cand = use[_candidate_pairs(thumbs, candidate_corr, progress) if len(use) <= exact_max
               else _candidate_pairs_approx(thumbs, candidate_corr, APPROX_K)]
    scores = _match_scores(images, cand, int(max_shift), progress)
    keep = scores >= threshold
    pairs, scores = cand[keep].astype(np.int64), scores[keep]
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], scores[order]


def groups_from_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """Connected components of an (P, 2) pair list over n images -> (N,) int64 group ids (0..G-1 by
    first appearance, -1 for images in no pair)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= n):
        raise ValueError(f"pair indices must be in 0..{n - 1}")
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    member = np.zeros(n, bool)
    member[pairs.ravel()] = True
    return _number_groups(comp, member)


def near_duplicate_groups(images: np.ndarray, *, threshold: float = NEAR_THRESHOLD, max_shift: int = MAX_SHIFT,
                          candidate_corr: float = CANDIDATE_CORR, ignore_blank: bool = True,
                          exact_max: int = EXACT_MAX, progress: bool = False) -> np.ndarray:
    """Groups of near-duplicate images (exact duplicates included); a group holds every image
    linked to another by a chain of near-duplicate pairs.

    Args: as :func:`near_duplicate_pairs`.

    Returns:
        (N,) int64 group id (0..G-1, by first appearance), -1 for images without a near duplicate.
    """
    pairs, _ = near_duplicate_pairs(images, threshold=threshold, max_shift=max_shift, candidate_corr=candidate_corr,
                                    ignore_blank=ignore_blank, exact_max=exact_max, progress=progress)
    return groups_from_pairs(pairs, len(images))


def _compute_near(ds, config: NearDuplicatesConfig, model, progress, store) -> dict[str, np.ndarray]:
    images = _check_images(ds.images)
    pairs, scores = near_duplicate_pairs(images, threshold=config.threshold, max_shift=config.max_shift,
                                         exact_max=config.exact_max, progress=bool(progress))
    n_used = int((~_blank(images)).sum())
    return {"groups": groups_from_pairs(pairs, len(images)), "pairs": pairs, "scores": scores,
            "candidates_exact": np.bool_(n_used <= config.exact_max)}


def _near_key_config(config: NearDuplicatesConfig) -> dict:
    return {"kind": "near", "threshold": float(config.threshold), "max_shift": int(config.max_shift),
            "candidate_corr": CANDIDATE_CORR, "ignore_blank": True, "version": DUPLICATES_VERSION,
            "exact_max": int(config.exact_max), "approx_k": APPROX_K}


#: Reads the pixels only: the same images with other labels, splits or FER+ votes share it (a
#: subset has its own data hash, so its groups are never its parent's).
STAGE = register(Stage("duplicates", "near-duplicate groups (re-encoded, shifted, re-lit copies) for the Label "
                       "errors page", NearDuplicatesConfig, _compute_near, reads=("images",),
                       enabled=lambda ds: len(ds) > 1, key_config=_near_key_config))


def near_duplicates_key(dataset) -> str:
    """Store key of the default near-duplicate groups of `dataset` (the prepare stage)."""
    return stages.key(STAGE, dataset)


def get_near_duplicates(dataset, *, store=None) -> np.ndarray:
    """(N,) int64 default near-duplicate groups of `dataset`, cached (the prepare stage)."""
    return duplicate_groups(dataset, kind="near", store=store)


def duplicate_groups(dataset, *, kind: str = "exact", threshold: float = NEAR_THRESHOLD,
                     max_shift: int = MAX_SHIFT, store=None, progress: bool = False) -> np.ndarray:
    """`exact_groups` or `near_duplicate_groups` of a Dataset's images; near groups are cached.

    Args:
        dataset: a :class:`fer_core.data.dataset.Dataset`.
        kind: 'exact' or 'near'.
        store: artifact store (default: cache/), keyed by the options and the hash of the images'
            source (a subset of a dataset has its own).
        progress: a tqdm bar while near pairs are searched.

    Returns:
        (N,) int64 group ids, as the finders.
    """
    if kind == "exact":
        return exact_groups(dataset.images)
    if kind != "near":
        raise ValueError(f"kind must be 'exact' or 'near', got {kind!r}")
    config = NearDuplicatesConfig(threshold=float(threshold), max_shift=int(max_shift))
    return stages.get(STAGE, dataset, config, store=store,
                      progress=(lambda f, t: None) if progress else None)["groups"]


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def _check_groups(groups, *others) -> np.ndarray:
    groups = np.asarray(groups)
    if groups.ndim != 1 or not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(f"groups must be (N,) integers, got {groups.shape} {groups.dtype}")
    for name, a in others:
        if np.shape(a) != groups.shape:
            raise ValueError(f"{name} must be ({len(groups)},) like groups, got {np.shape(a)}")
    return groups.astype(np.int64)


def duplicate_table(groups: np.ndarray, labels: np.ndarray, split: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
    """One row per duplicate group.

    Args:
        groups: (N,) int64 group ids (-1 = none), from a finder.
        labels: (N,) int FER2013 labels (-1 = unlabeled).
        split: (N,) str split names.
        rows: (N,) int source rows (``Dataset.row``).

    Returns:
        DataFrame sorted by group with columns group, size, indices (positions 0..N-1), rows,
        labels, splits (lists, in index order), conflicting_labels (the labeled copies carry
        more than one label), crosses_train_test (a Training copy and a copy in another split).
    """
    groups = _check_groups(groups, ("labels", labels), ("split", split), ("rows", rows))
    labels, split, rows = np.asarray(labels), np.asarray(split).astype(str), np.asarray(rows)
    idx = np.flatnonzero(groups >= 0)
    idx = idx[np.argsort(groups[idx], kind="stable")]
    cols = {"group": [], "size": [], "indices": [], "rows": [], "labels": [], "splits": [],
            "conflicting_labels": [], "crosses_train_test": []}
    if len(idx):
        bounds = np.flatnonzero(np.diff(groups[idx])) + 1
        for members in np.split(idx, bounds):
            lab, spl = labels[members], split[members]
            cols["group"].append(int(groups[members[0]]))
            cols["size"].append(len(members))
            cols["indices"].append(members.tolist())
            cols["rows"].append(rows[members].tolist())
            cols["labels"].append(lab.tolist())
            cols["splits"].append(spl.tolist())
            cols["conflicting_labels"].append(len(set(lab[lab >= 0].tolist())) > 1)
            cols["crosses_train_test"].append(bool((spl == "Training").any() and (spl != "Training").any()))
    df = pd.DataFrame(cols)
    return df.astype({"group": "int64", "size": "int64", "conflicting_labels": bool, "crosses_train_test": bool})


def has_training_twin(groups: np.ndarray, split: np.ndarray) -> np.ndarray:
    """(N,) bool: the image is not in Training and its group has a Training image."""
    groups = _check_groups(groups, ("split", split))
    split = np.asarray(split).astype(str)
    train_groups = np.unique(groups[(split == "Training") & (groups >= 0)])
    return (split != "Training") & (groups >= 0) & np.isin(groups, train_groups)


def leakage(groups: np.ndarray, split: np.ndarray) -> pd.DataFrame:
    """Test images with a duplicate in Training, per split other than Training.

    Returns:
        DataFrame with columns split, n (images), with_training_twin, share (0..1), one row per
        split present (PublicTest, PrivateTest first, others after).
    """
    twin = has_training_twin(groups, split)
    split = np.asarray(split).astype(str)
    present = set(split.tolist()) - {"Training"}
    names = [s for s in SPLITS if s in present] + sorted(present - set(SPLITS))
    recs = []
    for s in names:
        m = split == s
        recs.append({"split": s, "n": int(m.sum()), "with_training_twin": int(twin[m].sum()),
                     "share": float(twin[m].mean())})
    return pd.DataFrame(recs, columns=["split", "n", "with_training_twin", "share"])
