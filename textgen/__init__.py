"""textgen: character-level text generation with pluggable backbones and samplers."""

__version__ = "0.1.0"

# Plugins declare the API they were written for (module attribute ``textgen_plugin_api``);
# a plugin asking for another major version is refused by name.
PLUGIN_API_VERSION = 1
