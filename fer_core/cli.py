"""What every command shares: its parser with the common arguments, one way to fail on bad input,
and the shell line that reruns it.

Each `python -m fer_core.<verb>` is a `main(argv=None) -> int` that builds its parser here, parses,
and hands its work to :func:`run`::

    def main(argv=None) -> int:
        p = cli.command_parser("evaluate", "Score a checkpoint on one split.", config=EvalConfig, json=True)
        a = p.parse_args(argv)
        return cli.run(lambda: _evaluate(EvalConfig.from_args(a), as_json=a.json), as_json=a.json)
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import fields
from typing import Callable

#: The arguments most commands take, with one help text each.
COMMON_ARGS = {
    "data": "fer2013.csv[.gz] or image folder (default: the bundled sample)",
    "ferplus": "fer2013new.csv with the FER+ votes, row-aligned with --data",
    "model": "shipped checkpoint name or .pt path (default: the default shipped model)",
}


def command_parser(verb: str, description: str, *, config=None, data: bool = False, ferplus: bool = False,
                   model: bool = False, json: bool = False, raw_description: bool = False) -> argparse.ArgumentParser:
    """A parser for `python -m fer_core.<verb>`.

    Args:
        verb: the command's name (its prog is ``python -m fer_core.<verb>``).
        description: the --help text (the module docstring for a long one, with `raw_description`).
        config: a JobConfig class whose fields become options (fer_core.config).
        data, ferplus, model: add --data / --ferplus / --model (skipped when `config` has that field).
        json: add --json ("print one JSON object").
    """
    p = argparse.ArgumentParser(prog=f"python -m fer_core.{verb}", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter if raw_description
                                else argparse.HelpFormatter)
    own = {f.name for f in fields(config)} if config is not None else set()
    for name, wanted in (("data", data), ("ferplus", ferplus), ("model", model)):
        if wanted and name not in own:
            p.add_argument(f"--{name}", default="", help=COMMON_ARGS[name])
    if config is not None:
        config.add_arguments(p)
    if json:
        p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(body: Callable[[], int | None], *, as_json: bool = False,
        errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run a command's work and return its exit code.

    Bad input (ValueError, which DataError, FlagError and ExportError are; FileNotFoundError; and
    `errors`) prints ``error: <message>`` on stderr, and ``{"error": message}`` on stdout with
    `as_json`, and returns 2: a message that names the file, row and field, never a traceback.
    """
    try:
        return body() or 0
    except (ValueError, FileNotFoundError, *errors) as e:
        if as_json:
            print(json.dumps({"error": str(e)}))
        print(f"error: {e}", file=sys.stderr)
        return 2


def command_line(verb: str, *args: str, **options) -> str:
    """The shell line of a command, options in the order given; empty or None options left out,
    True ones as bare flags, lists as several values after one flag.

    Example:
        >>> command_line("prepare", data="/d/fer 2013.csv", ferplus=None, model="compact")
        "python -m fer_core.prepare --data '/d/fer 2013.csv' --model compact"
    """
    parts = [f"python -m fer_core.{verb}", *map(shlex.quote, args)]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, (list, tuple)):
            if value:
                parts.append(" ".join([flag, *(shlex.quote(str(v)) for v in value)]))
        elif value not in (None, "", False):
            parts.append(f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)
