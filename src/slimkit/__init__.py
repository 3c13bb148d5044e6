"""slimkit: train small, fast vision models for edge devices.

Example:
    >>> import slimkit
    >>> isinstance(slimkit.__version__, str)
    True
"""

__version__ = "0.1.0"
