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
    """Base: dict round-trip and CLI flags generated from the fields."""

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
    seed: int = opt(0, "random seed of the randomized SVD")
