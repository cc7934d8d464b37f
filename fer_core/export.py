"""`python -m fer_core.export`: the command of :mod:`fer_core.models.export` (see its --help)."""
from fer_core.models.export import main

if __name__ == "__main__":
    raise SystemExit(main())
