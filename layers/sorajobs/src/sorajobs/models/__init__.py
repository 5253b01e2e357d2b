"""Pydantic models: the domain job, the HTTP input/output shapes, messages and errors."""
