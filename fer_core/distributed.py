"""`python -m fer_core.distributed`: the command of :mod:`fer_core.pipeline.distributed` (see its --help)."""
from fer_core.pipeline.distributed import main

if __name__ == "__main__":
    raise SystemExit(main())
