"""`python -m fer_core.aligner`: the command of :mod:`fer_core.models.aligner` (see its --help)."""
from fer_core.models.aligner import main

if __name__ == "__main__":
    raise SystemExit(main())
