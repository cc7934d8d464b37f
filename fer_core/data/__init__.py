"""Data layer: readers (FER2013 CSV, FER+ votes, image folders), Dataset, the bundled sample, flags, image helpers.

Image folders: ``layouts`` (RAF-DB, AffectNet, CK+, emotion folders and their labels), ``photos``
(decoding any photo file) and ``faces`` (face detection and the 48x48 crop, shared with Try a face).

Imports only the ground floor (fer_core.config, constants, errors, store, validate).
"""
