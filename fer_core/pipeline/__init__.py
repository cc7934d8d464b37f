"""Pipeline layer: the stage registry (`stages`), `prepare` and `predict`.

The top of the engine: it may import every layer below it.
"""
