"""Schema revisions, oldest first: 0001 tables, 0002 full-text search, 0003 history order."""
