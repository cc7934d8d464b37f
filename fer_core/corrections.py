"""`python -m fer_core.corrections`: the command of :mod:`fer_core.training.corrections` (see its --help)."""
from fer_core.training.corrections import main

if __name__ == "__main__":
    raise SystemExit(main())
