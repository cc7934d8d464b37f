"""`python -m fer_core.train`: the command of :mod:`fer_core.training.train` (see its --help)."""
from fer_core.training.train import main

if __name__ == "__main__":
    raise SystemExit(main())
