"""Event store on SQLite (default) or PostgreSQL (by URL), with versioned schema migrations."""
