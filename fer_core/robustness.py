"""`python -m fer_core.robustness`: the command of :mod:`fer_core.analysis.robustness` (see its --help)."""
from fer_core.analysis.robustness import main

if __name__ == "__main__":
    raise SystemExit(main())
