"""`python -m fer_core.prepare`: the command of :mod:`fer_core.pipeline.prepare` (see its --help)."""
from fer_core.pipeline.prepare import main

if __name__ == "__main__":
    raise SystemExit(main())
