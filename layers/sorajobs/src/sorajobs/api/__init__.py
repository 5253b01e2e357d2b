"""The HTTP API: routers per function, the error envelope and the caller's identity."""
