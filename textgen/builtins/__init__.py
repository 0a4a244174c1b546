"""Built-in plugins: registered through the package's own ``textgen`` entry points."""
