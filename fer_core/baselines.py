"""`python -m fer_core.baselines`: the command of :mod:`fer_core.training.baselines` (see its --help)."""
from fer_core.training.baselines import main

if __name__ == "__main__":
    raise SystemExit(main())
