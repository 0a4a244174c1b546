"""Training: Keras fit with the project's callbacks, and held-out bits per character."""
