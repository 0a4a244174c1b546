"""textgen: character-level text generation with pluggable backbones and samplers."""

import os

# TensorFlow's C++ start-up chatter hides textgen's own output; users can still raise it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

# Plugins declare the API they were written for (module attribute ``textgen_plugin_api``);
# a plugin asking for another major version is refused by name.
PLUGIN_API_VERSION = 1

# The Python API (textgen/api.py), imported on first use so `import textgen` stays light.
_API = ("load", "run", "sampler", "TrainedModel")


def __getattr__(name: str):
    if name in _API:
        from textgen import api

        return getattr(api, name)
    raise AttributeError(f"module 'textgen' has no attribute {name!r}")
