"""floe: a data platform's rules as signed, versioned OCI artifacts."""

__version__ = "0.1.0"
