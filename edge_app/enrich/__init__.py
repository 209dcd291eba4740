"""Enrichment passes that run after embedding (OCR first), never before it."""
