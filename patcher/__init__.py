"""Make every copy of pkg_resources survive distributions vanishing under it."""

__version__ = "0.1.0"
