"""Reviewer sessions for the flag load test (tests/test_load.py), in a module that imports only
fer_core.data.flags, so that the worker processes start in milliseconds (no torch)."""
from fer_core.data.flags import DECISIONS, FlagStore

#: The dataset hash the sessions flag.
DATA_HASH = "load-test-dataset"


def flag_session(store: FlagStore, k: int, n: int) -> None:
    """Session k: n decisions on its own rows (odd i) and on rows every session flags (even i),
    reading the flags back after each as the Label errors page does. Notes are f"s{k}-{i}"."""
    for i in range(n):
        row = k * 1000 + i if i % 2 else i
        decision = DECISIONS[i % len(DECISIONS)]
        store.add(data_hash=DATA_HASH, row=row, decision=decision,
                  label=(i % 7) if decision == "mislabeled" else None, note=f"s{k}-{i}")
        store.latest(DATA_HASH)


def flag_process(path: str, k: int, n: int, ready) -> None:
    """flag_session in its own process with its own FlagStore, started when `ready` releases."""
    store = FlagStore(path)
    ready.wait(60)
    flag_session(store, k, n)
