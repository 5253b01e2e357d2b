"""Tools for a deployed stack: `make user` (ops.create_user) and the deployment cost table (ops.costs)."""
