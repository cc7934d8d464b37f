"""`python -m fer_core.evaluate`: the command of :mod:`fer_core.training.evaluate` (see its --help)."""
from fer_core.training.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
