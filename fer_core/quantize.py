"""`python -m fer_core.quantize`: the command of :mod:`fer_core.training.quantize` (see its --help)."""
from fer_core.training.quantize import main

if __name__ == "__main__":
    raise SystemExit(main())
