"""`python -m fer_core.predict`: the command of :mod:`fer_core.pipeline.predict` (see its --help)."""
from fer_core.pipeline.predict import main

if __name__ == "__main__":
    raise SystemExit(main())
