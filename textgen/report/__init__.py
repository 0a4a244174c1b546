"""Reports: rich tables for the terminal and Markdown for the run directory."""
