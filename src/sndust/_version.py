"""The package version (one place: the posterior files record it)."""

__version__ = "0.1.0.dev0"
