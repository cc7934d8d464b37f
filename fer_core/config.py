"""One frozen config dataclass per job, with to_dict()/from_dict() and an argparse bridge.

A config is what an artifact's cache key hashes and what its `config.json` records.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T", bound="JobConfig")


@dataclass(frozen=True)
class JobConfig:
    """Base: dict round-trip, CLI flags generated from the fields, and declared choices checked.

    A field declared with ``opt(..., choices=(...))`` only takes one of those values (each item of
    a tuple-valued field, too): constructing a config with another raises ValueError naming the
    config, the field, the value and the choices, so code that receives a config need not re-check.
    """

    def __post_init__(self) -> None:
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices is None:
                continue
            value = getattr(self, f.name)
            for v in value if isinstance(value, (tuple, list)) else (value,):
                if v not in choices:
                    raise ValueError(f"{type(self).__name__}.{f.name}: {v!r} is not one of "
                                     f"{', '.join(map(repr, choices))}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}")
        hints = typing.get_type_hints(cls)
        kw = {}
        for k, v in d.items():
            if isinstance(v, list) and "tuple" in str(hints.get(k, "")):
                v = tuple(v)
            kw[k] = v
        return cls(**kw)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
        """Add one `--field-name` option per field, typed and defaulted from the dataclass."""
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            if f.name in skip:
                continue
            flag = "--" + f.name.replace("_", "-")
            t = hints[f.name]
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore
            help_ = f.metadata.get("help", "")
            if t is bool:
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_)
            elif typing.get_origin(t) is tuple:
                inner = typing.get_args(t)[0]
                parser.add_argument(flag, type=lambda s, inner=inner: tuple(inner(x) for x in s.split(",") if x),
                                    default=default, help=(help_ + " (comma-separated)").strip())
            else:
                base = next((a for a in typing.get_args(t) if a is not type(None)), t) if typing.get_origin(t) else t
                choices = f.metadata.get("choices")
                parser.add_argument(flag, type=base, default=default, choices=choices, help=help_)

    @classmethod
    def from_args(cls: type[T], ns: argparse.Namespace, **overrides: Any) -> T:
        kw = {f.name: getattr(ns, f.name) for f in fields(cls) if hasattr(ns, f.name)}
        kw.update(overrides)
        return cls(**kw)


def opt(default: Any, help: str = "", choices: tuple | None = None) -> Any:
    """A dataclass field with a help text (and choices) for the generated CLI."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class PCAConfig(JobConfig):
    """Eigenfaces: PCA over the images of one split (or all)."""

    split: str = opt("Training", "images to fit on: Training, PublicTest, PrivateTest or all")
    n_components: int = opt(200, "principal components kept overall")
    n_components_per_class: int = opt(16, "eigenfaces kept per emotion")
    seed: int = opt(0, "random seed of the randomized SVD (and of the fit sample)")
    fit_sample: int = opt(50000, "fit each PCA on a random sample of at most this many images (0 = all; the "
                          "mean faces always use every image): 350k faces took 7.7 GB fitted on all")


@dataclass(frozen=True)
class TrainConfig(JobConfig):
    """Train one CNN (python -m fer_core.train). Model selection uses PublicTest only."""

    # data
    data: str = opt("", "fer2013.csv[.gz] (empty: the bundled 1000-image sample)")
    ferplus: str = opt("", "fer2013new.csv with the FER+ votes, row-aligned with --data")
    label_set: str = opt("fer2013", "classes to learn", ("fer2013", "fer6", "ferplus"))
    ferplus_target: str = opt("majority", "FER+ only: train on the majority class or on the vote "
                              "distribution (always tested on the majority)", ("majority", "distribution"))
    label_corrections: str = opt("", "flags CSV exported from the label-errors page (columns row, corrected_label "
                                 "as name or FER2013 index, decision); corrected labels replace the Training "
                                 "labels by row; a row not in the data is an error")
    exclude_flagged: bool = opt(False, "drop Training images flagged not_face or duplicate, or mislabeled without a "
                                "corrected label, in --label-corrections")
    max_train_images: int = opt(0, "use at most this many Training images (0 = all; for tests)")
    # model
    model: str = opt("compact", "registered model name (fer_core.models.registry.list_models())")
    width: float = opt(1.0, "channel width multiplier")
    dropout: float = opt(-1.0, "dropout before the classifier (-1 = the model's default)")
    # optimisation
    epochs: int = opt(30, "passes over the training images")
    batch_size: int = opt(128, "images per step")
    optimizer: str = opt("sgd", "sgd = SGD with Nesterov momentum 0.9", ("sgd", "adamw"))
    lr: float = opt(0.0, "peak learning rate (0 = default: sgd 0.1 x batch_size / 128, adamw 0.002)")
    weight_decay: float = opt(-1.0, "weight decay on conv/linear weights (-1 = default: sgd 5e-4, adamw 0.05)")
    schedule: str = opt("cosine", "cosine (linear warm-up, then cosine to 0) or onecycle", ("cosine", "onecycle"))
    warmup_epochs: float = opt(1.0, "cosine only: epochs of linear warm-up")
    label_smoothing: float = opt(0.0, "label smoothing epsilon")
    # augmentation (batched, on the training device)
    hflip: bool = opt(True, "random horizontal flip")
    shift: float = opt(0.1, "random translation, as a fraction of the image size (0.1 = up to 4.8 px)")
    rotation: float = opt(10.0, "random rotation, up to this many degrees")
    scale: float = opt(0.1, "random zoom by a factor in [1 - scale, 1 + scale]")
    brightness: float = opt(0.2, "random brightness offset in [-b, b] (pixel units /255)")
    contrast: float = opt(0.2, "random contrast factor in [1 - c, 1 + c]")
    erasing: float = opt(0.25, "probability of random erasing (one rectangle, 2-25%% of the image)")
    mixup: float = opt(0.0, "mixup Beta(alpha, alpha) parameter (0 = off)")
    noise: float = opt(0.0, "Gaussian-noise augmentation: each image gets noise of a variance drawn from [0, noise] "
                       "on [0, 1] pixels (0 = off; 0.1 is the robustness study's fix, see fer_core.analysis.robustness)")
    imbalance: str = opt("none", "class imbalance handling: loss weights, or re-sampling each epoch",
                         ("none", "class_weights", "oversample", "undersample"))
    # knowledge distillation
    teacher: str = opt("", "checkpoint (path or shipped name) of a teacher model with the same label set: the "
                       "student also learns the teacher's flip-TTA soft targets on each augmented batch")
    kd_weight: float = opt(0.5, "with --teacher: weight of the distillation term (loss = (1 - w) x labels + w x "
                           "teacher)")
    kd_temperature: float = opt(4.0, "with --teacher: softmax temperature of the distillation term")
    # out-of-fold probabilities
    folds: int = opt(0, "K-fold mode (K >= 2; 0 = off): train on every labelled row (all splits) outside fold "
                     "--fold, keep the last epoch, and write the held-out fold's flip-TTA probabilities to "
                     "<out stem>.oof.npz (folds stratified by label, exact duplicate images kept in one fold)")
    fold: int = opt(0, "with --folds: the fold to hold out (0 .. K-1)")
    # run
    time_budget: float = opt(0.0, "seconds for the training epochs (0 = no limit): after the first epoch the "
                             "cosine schedule's length is set from the measured epoch time so that it ends inside "
                             "the budget (re-planned each epoch as the pace changes); --epochs is then the most "
                             "epochs. A run out of time stops and keeps its best epoch")
    seed: int = opt(0, "random seed (weights, sampling, augmentation)")
    threads: int = opt(0, "CPU threads for torch (0 = torch's default)")
    amp: bool = opt(True, "mixed precision (bfloat16 autocast) on CUDA; ignored on CPU")
    channels_last: bool = opt(True, "channels-last memory format (on CPU only for models without strided "
                              "1x1 convs, which crash in this torch's CPU backward)")
    out: str = opt("", "checkpoint path to write (empty: runs/<model>-<label_set>-<time>.pt from the CLI)")


@dataclass(frozen=True)
class EvalConfig(JobConfig):
    """Score a checkpoint on one split (python -m fer_core.evaluate)."""

    data: str = opt("", "fer2013.csv[.gz] (empty: the bundled sample)")
    ferplus: str = opt("", "fer2013new.csv, row-aligned with --data (adds the FER+ re-scoring)")
    model: str = opt("compact", "checkpoint path or shipped name")
    split: str = opt("PrivateTest", "split to score", ("Training", "PublicTest", "PrivateTest"))
    label_set: str = opt("", "label set to score against (empty: the checkpoint's)")
    tta: bool = opt(False, "average each image's prediction with its mirror's")
    batch_size: int = opt(512, "images per forward pass")


@dataclass(frozen=True)
class BaselineConfig(JobConfig):
    """Classical baselines on PCA features (python -m fer_core.baselines)."""

    data: str = opt("", "fer2013.csv[.gz] (empty: the bundled sample)")
    names: tuple[str, ...] = opt(("logreg", "linear_svm", "rbf_svm", "random_forest"), "baselines to fit")
    n_components: int = opt(100, "PCA components (fit on Training)")
    rbf_max_train: int = opt(10000, "RBF SVM: fit on a stratified subsample of this many Training images "
                             "(0 = all; the full set takes tens of minutes)")
    max_train: int = opt(50000, "the other baselines: fit on a stratified subsample of at most this many Training "
                         "images (0 = all; 280k images took 30 min and 7.5 GB)")
    split: str = opt("PrivateTest", "split to score", ("PublicTest", "PrivateTest"))
    seed: int = opt(0, "random seed")


@dataclass(frozen=True)
class ProjectionConfig(JobConfig):
    """2-D / 3-D map of a model's penultimate features (python -m fer_core.embed).

    Every field changes the picture, so every field is part of the artifact's cache key.
    """

    method: str = opt("umap", "pca, tsne (t-SNE) or umap (UMAP)", ("pca", "tsne", "umap"))
    dims: int = opt(2, "dimensions of the map", (2, 3))
    pca_dims: int = opt(50, "t-SNE/UMAP: reduce the features to this many principal components first "
                        "(0 = use the raw features)")
    perplexity: float = opt(30.0, "t-SNE: perplexity (about the number of effective neighbours)")
    n_neighbors: int = opt(15, "UMAP: neighbours of the k-NN graph (larger = more global structure)")
    min_dist: float = opt(0.1, "UMAP: minimum distance between points in the map (smaller = tighter clusters)")
    tsne_impl: str = opt("auto", "t-SNE implementation: auto (openTSNE when installed and 2-D, else "
                         "scikit-learn), sklearn or opentsne", ("auto", "sklearn", "opentsne"))
    seed: int = opt(0, "random seed (same seed and inputs = same map)")
    fit_sample: int = opt(50000, "t-SNE/UMAP: with more images than this, fit the map on a sample of this many "
                          "(stratified by the model's predicted class) and place the rest with the fitted map's "
                          "transform (0 = fit on every image)")


@dataclass(frozen=True)
class PredictionsConfig(JobConfig):
    """A model's probabilities and penultimate features on every image (stage 'predictions')."""

    tta: bool = opt(True, "average each image's probabilities with its mirror image's")


@dataclass(frozen=True)
class BaselinePredictionsConfig(JobConfig):
    """PCA baselines fit on Training, probabilities on the other labeled rows (stage 'baselines')."""

    names: tuple[str, ...] = opt(("logreg", "linear_svm", "rbf_svm", "random_forest"), "baselines to fit")
    n_components: int = opt(100, "PCA components (fit on Training)")
    seed: int = opt(0, "random seed")
    rbf_max_train: int = opt(10000, "RBF SVM: fit on a stratified subsample of this many Training images")
    max_train: int = opt(50000, "the other baselines: fit on a stratified subsample of at most this many Training "
                         "images (0 = all; 280k images took 30 min and 7.5 GB)")


@dataclass(frozen=True)
class FeatureStatsConfig(JobConfig):
    """Neighbour graph and silhouettes of a model's features (stage 'embedding_stats')."""

    k: int = opt(10, "nearest neighbours per image")
    silhouette_max_samples: int = opt(10000, "silhouettes on a class-stratified sample of at most this many images")
    seed: int = opt(0, "random seed of that sample and of the approximate neighbour search")
    exact_max: int = opt(50000, "exact nearest neighbours up to this many images (N^2 work); above, approximate "
                         "ones (NN-descent, pynndescent: ~N^1.1, recall ~0.99)")


@dataclass(frozen=True)
class NearDuplicatesConfig(JobConfig):
    """Near-duplicate groups (stage 'duplicates', fer_core.analysis.duplicates)."""

    threshold: float = opt(0.90, "minimum best Pearson correlation over shifts (-1..1; higher = stricter)")
    max_shift: int = opt(2, "largest shift in pixels searched (0..8)")
    exact_max: int = opt(50000, "candidate pairs from every pair of thumbnails up to this many images (N^2 work); "
                         "above, from an approximate 20-neighbour graph of them (NN-descent: ~N^1.1)")


@dataclass(frozen=True)
class AttentionConfig(JobConfig):
    """Every image's saliency map summed over a coarse grid (stage 'attention', fer_core.analysis.attention)."""

    method: str = opt("gradcam", "attribution method, for each image's predicted class",
                      ("saliency", "integrated_gradients", "smoothgrad", "gradcam", "guided_backprop",
                       "guided_gradcam", "occlusion"))
    grid: int = opt(6, "cells across each side of the grid (8x8-pixel cells of a 48x48 face)", (3, 4, 6, 8, 12))


@dataclass(frozen=True)
class AttributionConfig(JobConfig):
    """Per-class average saliency maps over correctly classified test images (fer_core.analysis.attribute)."""

    model: str = opt("", "shipped checkpoint name or path (empty: the default model)")
    method: str = opt("gradcam", "attribution method", ("saliency", "integrated_gradients", "smoothgrad", "gradcam",
                                                        "guided_backprop", "guided_gradcam", "occlusion"))
    splits: tuple[str, ...] = opt(("PublicTest", "PrivateTest"), "splits whose correctly classified images are used")
    max_per_class: int = opt(50, "at most this many images per class (a seeded random subset)")
    n_steps: int = opt(32, "Integrated Gradients steps")
    nt_samples: int = opt(16, "SmoothGrad noise samples")
    seed: int = opt(0, "random seed (subset, SmoothGrad noise)")


@dataclass(frozen=True)
class SanityConfig(JobConfig):
    """Cascading model-randomization sanity check of the saliency methods (Adebayo et al. 2018)."""

    model: str = opt("", "shipped checkpoint name or path (empty: the default model)")
    methods: tuple[str, ...] = opt(("saliency", "integrated_gradients", "smoothgrad", "gradcam", "guided_backprop",
                                    "guided_gradcam", "occlusion"), "methods to check")
    split: str = opt("PrivateTest", "split the images are drawn from (all images when the data has none)")
    n_images: int = opt(8, "images compared per randomization step")
    n_steps: int = opt(16, "Integrated Gradients steps")
    nt_samples: int = opt(8, "SmoothGrad noise samples")
    seed: int = opt(0, "random seed (images, new weights, SmoothGrad noise)")


@dataclass(frozen=True)
class ExportConfig(JobConfig):
    """Export a checkpoint for use outside Python (python -m fer_core.export)."""

    model: str = opt("compact", "shipped checkpoint name or .pt path")
    format: str = opt("onnx", "file format", ("onnx",))
    out: str = opt("", "file to write (empty: <model>.onnx in the current folder)")
    opset: int = opt(18, "ONNX opset version")
    check_images: int = opt(100, "real images (bundled sample) the exported file is checked on (0 = no check)")
    atol: float = opt(1e-4, "largest allowed |logit difference| between ONNX Runtime and PyTorch")


@dataclass(frozen=True)
class DataSizeConfig(JobConfig):
    """Learning curve over training-set size (python -m fer_core.experiments data-size)."""

    data: str = opt("", "fer2013.csv[.gz] (empty: the bundled 1000-image sample)")
    model: str = opt("compact", "registered model name (fer_core.models.registry.list_models())")
    width: float = opt(1.0, "channel width multiplier")
    fractions: tuple[float, ...] = opt((0.05, 0.1, 0.25, 0.5, 1.0), "shares of the Training split to train on")
    seeds: int = opt(3, "repeats per fraction (seeds 0..seeds-1: subset, weights, augmentation)")
    epochs: int = opt(30, "epochs per run")
    min_steps: int = opt(0, "at least this many optimizer steps per run: small subsets get more epochs (0 = off)")
    batch_size: int = opt(128, "images per step")
    threads: int = opt(0, "CPU threads for torch (0 = torch's default)")


@dataclass(frozen=True)
class ModelSizeConfig(JobConfig):
    """Cost and accuracy of every registered model (python -m fer_core.experiments model-size)."""

    widths: tuple[float, ...] = opt((0.5, 0.75, 1.0), "width multipliers to measure for every model")
    models: tuple[str, ...] = opt((), "models to measure (empty: every registered model)")
    latency_runs: int = opt(30, "timed batch-1 CPU forward passes per model (median reported)")
    threads: int = opt(1, "CPU threads for the latency measurement")


@dataclass(frozen=True)
class RobustnessConfig(JobConfig):
    """Accuracy under corruptions and attacks over a severity axis, repeated over seeds
    (python -m fer_core.robustness). Each corruption is one cached artifact keyed by these fields
    (without `corruptions`), the corruption's severity levels, the data hash and the model hash."""

    corruptions: tuple[str, ...] = opt(("gaussian_noise", "gaussian_blur", "jpeg", "contrast", "occlusion_eyes",
                                        "occlusion_mouth", "fgsm"),
                                       "corruptions to sweep (fer_core.analysis.robustness.CORRUPTIONS); the default is what "
                                       "`python -m fer_core.prepare` builds (7.4 min on full PrivateTest, 2-core CPU)")
    split: str = opt("PrivateTest", "split whose labeled images are corrupted",
                     ("Training", "PublicTest", "PrivateTest"))
    repeats: int = opt(3, "repeats with seeds seed, seed+1, ... (deterministic corruptions run once and are copied)")
    seed: int = opt(0, "random seed of the noise, the random patches and rotations, and the subsample")
    max_images: int = opt(0, "a seeded random subsample of at most this many images of the split (0 = all)")
    tta: bool = opt(False, "average each prediction with its mirror image's (off: accuracy as `evaluate` reports it)")
    pgd_steps: int = opt(10, "PGD: gradient steps (step size 2.5 x epsilon / steps, Madry et al.)")
