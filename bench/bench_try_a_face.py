"""Try a face, timed: detect + predict + one saliency map for a 640x480 photo; detector comparison.

    python bench/bench_try_a_face.py [--model NAME] [--repeats 20] [--detectors haar,haar_alt2,mtcnn]
                                     [--rate-images 1000] [--threads N]

Prints, per detector, the median over `repeats` runs of each step on a 640x480 photo with
three faces (bundled-sample faces pasted at 150 px, fer_core.analysis.faces.demo_photo), then the
detection rate on every face of the bundled sample pasted alone (at 96 and 192 px on a
neutral canvas) and the false detections on 20 face-free 640x480 backgrounds. MTCNN is
measured only when facenet-pytorch is importable (e.g. `pip install --no-deps facenet-pytorch`
into a separate folder on PYTHONPATH: its wheel pins torch < 2.3).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from common import header

from fer_core.analysis import faces as F
from fer_core.analysis.attribute import attribute
from fer_core.models.checkpoint import load_checkpoint
from fer_core.data.dataset import load_dataset
from fer_core.models.inference import predict_probs
from fer_core.analysis.predictions import default_model


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts) * 1000)


def backgrounds(n: int, seed: int = 0) -> list[np.ndarray]:
    """Face-free 640x480 photos: flat, noise, gradients, stripes, blurred blobs."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            img = np.full((480, 640, 3), rng.integers(0, 256, 3), np.uint8)
        elif kind == 1:
            img = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        elif kind == 2:
            yy, xx = np.mgrid[0:480, 0:640]
            img = np.stack([(xx * 255 / 640), (yy * 255 / 480), np.full_like(xx, 128)], -1).astype(np.uint8)
            img = np.ascontiguousarray(np.roll(img, i * 37, axis=1))
        else:
            small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            img = cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC)
        out.append(img)
    return out


def detection_rate(images: np.ndarray, detector: str, size: int) -> tuple[float, float]:
    """Share of single faces found, and the mean detection time (ms) on their 2*size canvas."""
    hits, t = 0, 0.0
    for im in images:
        canvas, _ = F.synthetic_photo(im[None], size=(2 * size, 2 * size), face_px=size)
        t0 = time.perf_counter()
        hits += len(F.detect_faces(canvas, detector=detector)) >= 1
        t += time.perf_counter() - t0
    return hits / len(images), t / len(images) * 1000


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--detectors", default="haar,haar_alt2,mtcnn")
    p.add_argument("--method", default="gradcam", help="the saliency method timed")
    p.add_argument("--rate-images", type=int, default=1000,
                   help="sample faces used for the detection rate (0 = skip that part)")
    p.add_argument("--threads", type=int, default=0, help="torch and OpenCV threads (0 = their defaults)")
    a = p.parse_args(argv)
    if a.threads:
        import cv2
        import torch
        torch.set_num_threads(a.threads)
        cv2.setNumThreads(a.threads)
    header("bench_try_a_face")
    name = a.model or default_model()
    model, _ = load_checkpoint(name)
    ds = load_dataset()
    photo, pasted, _ = F.demo_photo(ds.images, ds.labels, n=3, seed=0)
    dets = [d for d in a.detectors.split(",") if d != "mtcnn" or F.mtcnn_available()]
    print(f"model {name}; photo 640x480 with {len(pasted)} faces; median of {a.repeats} runs")
    print(f"{'detector':<10} {'faces':>5} {'decode':>8} {'detect':>8} {'predict':>8} {a.method:>9} {'total':>8}")
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="JPEG", quality=90)
    jpeg = buf.getvalue()
    for det in dets:
        boxes = F.detect_faces(photo, detector=det)
        crops = np.stack([F.crop_face(photo, b, margin=F.CROP_MARGIN[det]) for b in boxes])
        t_dec = median_ms(lambda: F.load_photo(jpeg), a.repeats)
        t_det = median_ms(lambda: F.detect_faces(photo, detector=det), a.repeats)
        t_pred = median_ms(lambda: predict_probs(model, crops), a.repeats)
        t_sal = median_ms(lambda: attribute(model, crops[:1], method=a.method), a.repeats)
        t_all = median_ms(lambda: attribute(model, F.analyze_photo(photo, model, detector=det)[0]["crop"][None],
                                            method=a.method), a.repeats)
        print(f"{det:<10} {len(boxes):>5} {t_dec:>6.1f}ms {t_det:>6.1f}ms {t_pred:>6.1f}ms {t_sal:>7.1f}ms "
              f"{t_all:>6.1f}ms", flush=True)
    print("total = detect + crop + predict every face + one map for the first face, end to end")
    n = min(a.rate_images, len(ds))
    if n == 0:
        return
    bg = backgrounds(20)
    print(f"\ndetection rate on the {n} bundled-sample faces pasted alone; false detections on {len(bg)} "
          "face-free 640x480 backgrounds")
    for det in dets:
        r96, t96 = detection_rate(ds.images[:n], det, 96)
        r192, t192 = detection_rate(ds.images[:n], det, 192)
        fp = sum(len(F.detect_faces(b, detector=det)) for b in bg)
        print(f"{det:<10} found {r96:.1%} at 96 px ({t96:.1f} ms/canvas), {r192:.1%} at 192 px "
              f"({t192:.1f} ms/canvas); {fp} false detections", flush=True)


if __name__ == "__main__":
    main()
