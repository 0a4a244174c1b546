"""``textgen serve``: an OpenAI-compatible HTTP API over a trained run, and a web page that shows
how each sampler stage reshapes the next-character distribution (docs/serve.md)."""
