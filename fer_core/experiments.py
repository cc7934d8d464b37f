"""`python -m fer_core.experiments`: the command of :mod:`fer_core.training.experiments` (see its --help)."""
from fer_core.training.experiments import main

if __name__ == "__main__":
    raise SystemExit(main())
