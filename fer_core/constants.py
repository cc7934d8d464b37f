"""Label sets and fixed names shared by every module.

Each label set maps class index -> name. FER2013 is the reference index space: other sets
are reached with the mapping arrays below, never by re-reading the data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 48
N_PIXELS = IMAGE_SIZE * IMAGE_SIZE

#: Kaggle FER2013 `emotion` column, index order as published (0=angry ... 6=neutral).
FER2013_EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: FER+ emotion vote columns in file order (fer2013new.csv), Barsoum et al. 2016.
FERPLUS_EMOTIONS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
#: All ten FER+ vote columns: the 8 emotions, then "unknown" and "NF" (not a face).
FERPLUS_VOTE_COLUMNS: tuple[str, ...] = FERPLUS_EMOTIONS + ("unknown", "NF")

#: 6-class set used by one source study: disgust (too rare, 1.5%) merged into angry.
FER6_EMOTIONS: tuple[str, ...] = ("angry", "fear", "happy", "sad", "surprise", "neutral")

#: FER2013 index -> FER6 index (disgust -> angry).
FER2013_TO_FER6 = np.array([0, 0, 1, 2, 3, 4, 5], dtype=np.int64)
#: FER+ index -> FER2013 index; contempt has no FER2013 counterpart (-1).
FERPLUS_TO_FER2013 = np.array([6, 3, 5, 4, 0, 1, 2, -1], dtype=np.int64)

SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")

#: Folder names used by the common image-folder copies of FER2013 (train/<emotion>/...).
FOLDER_SPLITS = {"train": "Training", "training": "Training", "val": "PublicTest",
                 "validation": "PublicTest", "publictest": "PublicTest", "test": "PrivateTest",
                 "privatetest": "PrivateTest"}


@dataclass(frozen=True)
class LabelSet:
    """A named list of classes. `name` is what configs and checkpoints store."""

    name: str
    classes: tuple[str, ...]
    description: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)


LABEL_SETS: dict[str, LabelSet] = {
    "fer2013": LabelSet("fer2013", FER2013_EMOTIONS, "FER2013 7 classes, original Kaggle labels"),
    "ferplus": LabelSet("ferplus", FERPLUS_EMOTIONS, "FER+ 8 classes, crowd majority (10 votes)"),
    "fer6": LabelSet("fer6", FER6_EMOTIONS, "FER2013 with disgust merged into angry"),
}


def get_label_set(name: str) -> LabelSet:
    """Return the label set called `name`; ValueError naming the known sets otherwise."""
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise ValueError(f"unknown label set {name!r}; known: {', '.join(LABEL_SETS)}") from None
