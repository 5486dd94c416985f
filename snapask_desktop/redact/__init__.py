"""Redaction before a picture leaves the device: find secrets in its OCR words, paint them out."""
