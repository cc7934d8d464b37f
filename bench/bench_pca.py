"""PCA / eigenfaces on the full FER2013 (randomized PCA, 200 components + 16 per emotion).

    python bench/bench_pca.py [--data PATH]

Target (issue 2): PCA over all 35,887 images in <= 20 s here.
"""
import argparse

from common import DEFAULT_DATA, Timer, header

from fer_core.config import PCAConfig
from fer_core.data.dataset import load_dataset
from fer_core.analysis.eigenfaces import components_for, eigenfaces, fit_pca


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(DEFAULT_DATA))
    a = p.parse_args()
    header("PCA / eigenfaces")
    ds = load_dataset(a.data)
    with Timer() as t_all:
        r_all = fit_pca(ds.images, n_components=200)
    print(f"all {len(ds)} images, 200 components: {t_all.seconds:.2f} s (target <= 20 s); "
          f"90% variance at {components_for(r_all['explained_variance_ratio'])} components")
    m = ds.split == "Training"
    with Timer() as t_tr:
        r = eigenfaces(ds.images[m], ds.labels[m], PCAConfig())
    print(f"prepare stage (Training {m.sum()} images: 200 components + 16 per emotion x 7): {t_tr.seconds:.2f} s; "
          f"90% variance at {components_for(r['explained_variance_ratio'])} components (published: 103)")


if __name__ == "__main__":
    main()
