"""Data layer: readers (FER2013 CSV, FER+ votes, image folders), Dataset, the bundled sample, flags, image helpers.

Imports only the ground floor (fer_core.config, constants, errors, store, validate).
"""
