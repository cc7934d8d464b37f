"""Models layer: the architecture registry, checkpoints (ModelRef), inference, ONNX export, shipped weights/.

Imports the ground floor and fer_core.data.
"""
