"""Reference models to set beside textgen's own: a Kneser-Ney n-gram and compressors.

They score the same held-out characters as a run's ``val_bpc`` and need no TensorFlow; only
``mixture`` (the n-gram as a Keras layer that a model mixes with its network) imports it.
"""
