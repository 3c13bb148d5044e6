"""Developer tools (not needed at run time): ``python -m slimkit.devtools.imports``."""
