"""`python -m fer_core.folds`: the command of :mod:`fer_core.training.folds` (see its --help)."""
from fer_core.training.folds import main

if __name__ == "__main__":
    raise SystemExit(main())
