"""`python -m fer_core.embed`: the command of :mod:`fer_core.analysis.embed` (see its --help)."""
from fer_core.analysis.embed import main

if __name__ == "__main__":
    raise SystemExit(main())
