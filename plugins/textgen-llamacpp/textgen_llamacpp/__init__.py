"""llama.cpp's XTC and dynamic-temperature sampling stages for textgen."""

from textgen_llamacpp.samplers import DynatempSampler, XTCSampler

__all__ = ["DynatempSampler", "XTCSampler"]
