"""Schema revisions, oldest first: 0001 tables, 0002 full-text search, 0003 history order,
0004 the device side of sync (record writer, no message foreign keys, conflicts, problems),
0005 the text read from pictures, 0006 picture-text ops in the outbox, 0007 the full-text
backlog of a large sync."""
