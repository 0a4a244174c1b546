"""Reference models to set beside textgen's own: a Kneser-Ney n-gram and compressors.

They score the same held-out characters as a run's ``val_bpc`` and need no TensorFlow.
"""
