"""Rendering results: rich tables, JSON, CSV, progress on stderr."""
