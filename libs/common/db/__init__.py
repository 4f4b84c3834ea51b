"""Database: one metadata with every owner's tables, async sessions, migrations."""
