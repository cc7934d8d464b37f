"""`python -m fer_core.label_errors`: the command of :mod:`fer_core.analysis.label_errors` (see its --help)."""
from fer_core.analysis.label_errors import main

if __name__ == "__main__":
    raise SystemExit(main())
