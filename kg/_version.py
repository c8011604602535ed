"""The package version, in one place: the front door, the User-Agent and harvest manifests read it."""

__version__ = "0.1.0"
