"""``tenantry db apply-sql FILE``: one hand-written SQL file, all or nothing.

The seed's ``apply-migration-file`` split files on semicolons by hand and broke on
function bodies. Here PostgreSQL's own parser (``pglast``, libpg_query) finds the
statements — dollar-quoted bodies, quoted strings and comments are whatever PostgreSQL
says they are — and a syntax error is reported with its line before anything runs.
The statements then run in ONE transaction: the first failure is reported with its
statement number, line and text, and everything is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

# Statements that would end or split the one transaction (or cannot run inside one).
_TRANSACTION_NODES = {"TransactionStmt"}


@dataclass(frozen=True)
class Statement:
    number: int
    line: int
    text: str


class SqlFileError(Exception):
    def __init__(self, message: str, statement: Statement | None = None) -> None:
        super().__init__(message)
        self.statement = statement


def _line_of(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def split_statements(source: str) -> list[Statement]:
    """The file's statements with the line each starts on (comments before it skipped)."""
    from pglast import parser  # C extension: imported when used

    data = source.encode()
    try:
        parsed = parser.parse_sql(source)
    except parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 else None
        # ParseError.args[1] is the 0-based character offset of the error.
        line = source[:location].count("\n") + 1 if location is not None else None
        where = f" at line {line}" if line else ""
        raise SqlFileError(f"syntax error{where}: {exc.args[0]}") from exc
    statements = []
    for number, raw in enumerate(parsed, 1):
        start, length = raw.stmt_location or 0, raw.stmt_len or 0
        chunk = data[start : start + length] if length else data[start:]
        text = chunk.decode()
        stripped = _skip_leading_comments(text)
        offset = start + len(text.encode()) - len(stripped.encode())
        node = type(raw.stmt).__name__
        statement = Statement(number, _line_of(data, offset), stripped.strip())
        if node in _TRANSACTION_NODES:
            raise SqlFileError(
                f"statement {number} at line {statement.line} controls the transaction "
                f"({statement.text.split()[0].upper()}); the file runs in one transaction "
                "already — remove it",
                statement,
            )
        statements.append(statement)
    return statements


def _skip_leading_comments(text: str) -> str:
    while True:
        stripped = text.lstrip()
        if stripped.startswith("--"):
            text = stripped.partition("\n")[2]
        elif stripped.startswith("/*"):
            depth, i = 0, 0
            while i < len(stripped):
                if stripped.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif stripped.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                    if depth == 0:
                        break
                else:
                    i += 1
            text = stripped[i:]
        else:
            return stripped


def apply_file(conn: psycopg.Connection[Any], source: str) -> list[Statement]:
    """Run every statement in one transaction; on error roll back and raise SqlFileError."""
    statements = split_statements(source)
    if not statements:
        raise SqlFileError("the file holds no SQL statement")
    current: Statement | None = None
    try:
        with conn.transaction():
            for current in statements:
                conn.execute(current.text.encode())
    except psycopg.Error as exc:
        assert current is not None
        first = current.text.splitlines()[0] if current.text else ""
        raise SqlFileError(
            f"statement {current.number} at line {current.line} failed: "
            f"{' '.join(str(exc).split())}\n  {first}\nnothing was applied (rolled back)",
            current,
        ) from exc
    return statements
