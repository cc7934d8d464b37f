"""`python -m fer_core.data`: load a dataset and print its summary (fer_core.data.dataset.main)."""
from fer_core.data.dataset import main

raise SystemExit(main())
