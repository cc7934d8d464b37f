"""`fer VERB [options]` (console script) and `python -m fer_core VERB [options]`: every command in one.

Each verb is also its own module, as the README writes it: `python -m fer_core.train ...`.
"""
from __future__ import annotations

import importlib
import sys

#: verb -> module whose `main(argv)` runs it.
COMMANDS: dict[str, str] = {
    "data": "fer_core.data.dataset", "prepare": "fer_core.pipeline.prepare", "train": "fer_core.training.train",
    "evaluate": "fer_core.training.evaluate", "predict": "fer_core.pipeline.predict",
    "label_errors": "fer_core.analysis.label_errors", "embed": "fer_core.analysis.embed",
    "robustness": "fer_core.analysis.robustness", "export": "fer_core.models.export",
    "experiments": "fer_core.training.experiments", "baselines": "fer_core.training.baselines",
    "corrections": "fer_core.training.corrections", "aligner": "fer_core.models.aligner",
    "folds": "fer_core.training.folds", "campaign": "fer_core.training.campaign",
    "quantize": "fer_core.training.quantize", "distributed": "fer_core.pipeline.distributed",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: fer VERB [options]   (fer VERB --help for a verb's options)\n\nverbs: " + ", ".join(COMMANDS))
        return 0 if argv else 2
    verb = argv[0].replace("-", "_")
    if verb not in COMMANDS:
        print(f"fer: unknown verb {argv[0]!r}; known: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[verb]).main(argv[1:]) or 0


if __name__ == "__main__":
    raise SystemExit(main())
