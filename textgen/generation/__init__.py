"""Generation: a compiled decoding loop that steps the model and draws with pluggable samplers."""
