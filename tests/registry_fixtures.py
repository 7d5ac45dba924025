"""pytest fixtures that start real docker-registry processes on 127.0.0.1."""
