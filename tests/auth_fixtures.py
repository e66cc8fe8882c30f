"""Fixtures for registered organisations and their access tokens (being written)."""
