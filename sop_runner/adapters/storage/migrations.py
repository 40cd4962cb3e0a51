"""Versioned schema migrations, in portable SQL for SQLite and PostgreSQL.

Append new versions at the end; never edit a released one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "events, runs, chain head, locks",
        [
            """CREATE TABLE events (
            seq BIGINT PRIMARY KEY,
            run_id VARCHAR(64) NOT NULL,
            run_seq INTEGER NOT NULL,
            ts VARCHAR(40) NOT NULL,
            kind VARCHAR(40) NOT NULL,
            actor VARCHAR(128) NOT NULL,
            data TEXT NOT NULL,
            prev_hash VARCHAR(64) NOT NULL,
            hash VARCHAR(64) NOT NULL,
            UNIQUE (run_id, run_seq)
        )""",
            "CREATE INDEX events_run ON events (run_id, run_seq)",
            """CREATE TABLE runs (
            run_id VARCHAR(64) PRIMARY KEY,
            sop_id VARCHAR(64) NOT NULL,
            requester VARCHAR(128) NOT NULL,
            status VARCHAR(20) NOT NULL,
            outcome VARCHAR(20),
            current_step INTEGER,
            created VARCHAR(40) NOT NULL,
            updated VARCHAR(40) NOT NULL
        )""",
            "CREATE TABLE chain_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash VARCHAR(64) NOT NULL)",
            "INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')",
            """CREATE TABLE locks (
            target VARCHAR(255) PRIMARY KEY,
            run_id VARCHAR(64) NOT NULL,
            acquired VARCHAR(40) NOT NULL
        )""",
        ],
    ),
    (
        2,
        "every event signed: its content hash and its actor's signature",
        [
            "ALTER TABLE events ADD COLUMN content_hash VARCHAR(64) NOT NULL DEFAULT ''",
            "ALTER TABLE events ADD COLUMN signature TEXT NOT NULL DEFAULT ''",
        ],
    ),
    (
        3,
        "document numbering register: one counter per agency, kind and year; every number kept",
        [
            """CREATE TABLE doc_counters (
            agency VARCHAR(128) NOT NULL,
            kind VARCHAR(40) NOT NULL,
            year INTEGER NOT NULL,
            last INTEGER NOT NULL,
            PRIMARY KEY (agency, kind, year)
        )""",
            """CREATE TABLE doc_numbers (
            agency VARCHAR(128) NOT NULL,
            kind VARCHAR(40) NOT NULL,
            year INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            number VARCHAR(200) NOT NULL,
            run_id VARCHAR(64) NOT NULL,
            doc_id VARCHAR(64) NOT NULL,
            status VARCHAR(20) NOT NULL,
            updated VARCHAR(40) NOT NULL,
            PRIMARY KEY (agency, kind, year, seq)
        )""",
        ],
    ),
]
