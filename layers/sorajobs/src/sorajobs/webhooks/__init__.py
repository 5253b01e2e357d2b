"""Webhooks both ways: signed status-change events to clients, and the provider's events in."""
