"""Configs check their own declared choices (fer_core.config.JobConfig.__post_init__), and the
choices agree with the registries they name."""
import argparse
import dataclasses
import inspect

import pytest

from fer_core import config as C
from fer_core.analysis import attribute, robustness
from fer_core.analysis.label_errors import MODES, LabelErrorConfig

CONFIGS = [c for _, c in inspect.getmembers(C, inspect.isclass)
           if issubclass(c, C.JobConfig) and c is not C.JobConfig] + [LabelErrorConfig]
CHOICE_FIELDS = [(cls, f) for cls in CONFIGS for f in dataclasses.fields(cls) if f.metadata.get("choices")]


def test_there_are_declared_choices_and_defaults_pass():
    assert len(CHOICE_FIELDS) >= 12  # e.g. TrainConfig.optimizer, ProjectionConfig.dims, LabelErrorConfig.mode
    for cls in CONFIGS:
        cls()  # every default is one of its choices


@pytest.mark.parametrize("cls, f", CHOICE_FIELDS, ids=lambda x: getattr(x, "__name__", getattr(x, "name", "")))
def test_a_value_outside_the_choices_is_named(cls, f):
    bad = 99 if all(isinstance(c, int) for c in f.metadata["choices"]) else "nope"
    choices = ", ".join(map(repr, f.metadata["choices"]))
    msg = f"{cls.__name__}.{f.name}: {bad!r} is not one of {choices}"
    with pytest.raises(ValueError) as e:
        cls(**{f.name: bad})
    assert str(e.value) == msg
    with pytest.raises(ValueError, match=f"{cls.__name__}.{f.name}"):   # replace() and from_dict() too
        dataclasses.replace(cls(), **{f.name: bad})
    with pytest.raises(ValueError, match=f"{cls.__name__}.{f.name}"):
        cls.from_dict({f.name: bad})
    for good in f.metadata["choices"]:
        assert getattr(cls(**{f.name: good}), f.name) == good


def test_the_cli_rejects_what_the_config_rejects():
    p = argparse.ArgumentParser()
    C.ProjectionConfig.add_arguments(p)
    with pytest.raises(SystemExit):
        p.parse_args(["--method", "mds"])
    assert C.ProjectionConfig.from_args(p.parse_args(["--dims", "3"])).dims == 3


def test_choices_agree_with_the_registries():
    attr_choices = dict((f.name, f) for f in dataclasses.fields(C.AttributionConfig))["method"].metadata["choices"]
    assert tuple(attr_choices) == tuple(attribute.REGISTRY)
    assert set(C.SanityConfig().methods) <= set(attribute.REGISTRY)
    assert set(C.RobustnessConfig().corruptions) <= set(robustness.CORRUPTIONS)
    mode = dict((f.name, f) for f in dataclasses.fields(LabelErrorConfig))["mode"]
    assert mode.metadata["choices"] == MODES
