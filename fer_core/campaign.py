"""`python -m fer_core.campaign`: the command of :mod:`fer_core.training.campaign` (see its --help)."""
from fer_core.training.campaign import main

if __name__ == "__main__":
    raise SystemExit(main())
