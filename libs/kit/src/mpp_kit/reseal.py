"""Re-seal stored values under the current key of a keyring, so that an old key can be dropped.

    python -m mpp_kit.reseal --table application --column phone_sealed --purpose phone \\
        --key-env CONTACT_SEALING_KEY [--bound-to-column id] [--id-column id] [--batch-size 500]

The database comes from `--dsn` or `DATABASE_URL`; the keyring from the environment variable named by
`--key-env` (never from the command line). Rows are taken in batches in the order of `--id-column`, each batch in
its own short transaction with its rows locked, so the service keeps running meanwhile. A value already under the
current key is not touched, so the command is safe to stop and run again. A value that opens with no listed key
is counted and left as it is (its id is printed, never its value). Prints one JSON line: resealed, unopenable and
how many values are still under another key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from mpp_kit.sealing import Keyring, SealingError

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _quoted(name: str) -> str:
    """A table or column name, checked and quoted: identifiers cannot be query parameters."""
    parts = name.split(".")
    if len(parts) > 2 or not all(_IDENTIFIER.match(part) for part in parts):
        raise ValueError(f"{name!r} is not a plain (optionally schema-qualified) lower-case identifier")
    return ".".join(f'"{part}"' for part in parts)


@dataclass
class ResealReport:
    resealed: int = 0
    unopenable: list[str] = field(default_factory=list)  # ids of the rows whose value opens with no key
    remaining: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "resealed": self.resealed,
            "unopenable": len(self.unopenable),
            "unopenable_ids": self.unopenable[:100],
            "remaining": self.remaining,
        }


async def reseal_column(
    conn: asyncpg.Connection,
    keys: Keyring,
    *,
    table: str,
    column: str,
    purpose: str,
    id_column: str = "id",
    bound_to_column: str | None = None,
    batch_size: int = 500,
) -> ResealReport:
    """Move every value of `table.column` not under the current key to it. `bound_to_column` holds what each
    value was sealed for (the application id); `None` means the row's id."""
    tbl, col, ident = _quoted(table), _quoted(column), _quoted(id_column)
    bound = _quoted(bound_to_column or id_column)
    current_prefix = f"v2.{keys.current}."
    pending = f"{col} IS NOT NULL AND {col} <> '' AND NOT starts_with({col}, $1)"
    select = (
        f"SELECT {ident} AS id, {bound}::text AS bound_to, {col} AS sealed FROM {tbl}"
        f" WHERE {pending} AND ($2::text IS NULL OR {ident}::text > $2)"
        f" ORDER BY {ident}::text LIMIT $3 FOR UPDATE"
    )
    update = f"UPDATE {tbl} SET {col} = $1 WHERE {ident}::text = $2 AND {col} = $3"
    report = ResealReport()
    after: str | None = None
    while True:
        async with conn.transaction():
            rows = await conn.fetch(select, current_prefix, after, batch_size)
            changes: list[tuple[str, str, str]] = []
            for row in rows:
                row_id = str(row["id"])
                try:
                    fresh = keys.reseal(row["sealed"], purpose=purpose, bound_to=row["bound_to"])
                except SealingError:
                    report.unopenable.append(row_id)
                    continue
                changes.append((fresh, row_id, row["sealed"]))
            if changes:
                await conn.executemany(update, changes)
        report.resealed += len(changes)
        if len(rows) < batch_size:
            break
        after = str(rows[-1]["id"])
    report.remaining = int(await conn.fetchval(f"SELECT count(*) FROM {tbl} WHERE {pending}", current_prefix))
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mpp_kit.reseal", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--dsn", help="PostgreSQL DSN (default: $DATABASE_URL)")
    parser.add_argument("--table", required=True)
    parser.add_argument("--column", required=True)
    parser.add_argument("--purpose", required=True, help="what the values are, as sealed: phone, nik")
    parser.add_argument("--key-env", required=True, help="environment variable holding the keyring")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--bound-to-column", help="what each value is bound to (default: the id column)")
    parser.add_argument("--batch-size", type=int, default=500)
    return parser


async def _run(args: argparse.Namespace, dsn: str, keys: Keyring) -> ResealReport:
    conn = await asyncpg.connect(dsn)
    try:
        return await reseal_column(
            conn,
            keys,
            table=args.table,
            column=args.column,
            purpose=args.purpose,
            id_column=args.id_column,
            bound_to_column=args.bound_to_column,
            batch_size=args.batch_size,
        )
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    dsn = args.dsn or os.environ.get("DATABASE_URL")
    if not dsn:
        print("reseal: no database: give --dsn or set DATABASE_URL", file=sys.stderr)
        return 2
    try:
        keys = Keyring.parse(os.environ.get(args.key_env, ""), args.key_env)
        _quoted(args.table), _quoted(args.column), _quoted(args.id_column)
    except (SealingError, ValueError) as exc:
        print(f"reseal: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(_run(args, dsn, keys))
    print(json.dumps(report.as_json()))
    return 1 if report.unopenable else 0


if __name__ == "__main__":
    raise SystemExit(main())
