"""Training layer: train (named steps, resumable), evaluate, baselines, experiments, label corrections.

Imports the ground floor, fer_core.data and fer_core.models.
"""
