"""The package version, in one place (read by the package, the CLI and checkpoints)."""

__version__ = "0.5.3"
