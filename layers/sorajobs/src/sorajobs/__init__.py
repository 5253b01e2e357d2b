"""Sora video job backend: shared package."""
