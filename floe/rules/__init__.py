"""Platform rules enforced on a project; `engine.evaluate` runs every rule family."""
