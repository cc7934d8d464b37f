"""Analysis layer: what the pages explain about a model and its data (predictions, eigenfaces,
embeddings, attributions, robustness, label errors, duplicates, faces in photos).

Imports every layer below it: ground floor, data, models, training.
"""
