#!/usr/bin/env python3
"""Checks an audit trail CSV export away from the database, with nothing but Python's standard library.

    python3 scripts/verify-audit-csv.py audit-2026-12-06.csv [--head SEQ:HASH]

For every sealed event (one with a position, `seq`):
  - its hash is SHA-256 of the previous hash, a newline and `sealed_content` (what the database
    hashed: every column as Postgres prints it, as one JSON array; lib/audit/sealed-content.ts);
  - the columns shown beside it say what `sealed_content` says (an edited actor, action, target,
    time, before or after is caught even if the hash columns were left alone);
  - where two events follow each other in the chain (positions n and n+1), the later one points to
    the earlier one's hash. A filtered export has gaps; they are counted, not refused.
With --head SEQ:HASH (from the console's "Verify the chain"), the export must hold that position
with that hash: then no row of the export can have been made up or altered without breaking a link
to it, as far as the export reaches back unbroken.

Prints one line and exits 0 when every check holds; otherwise names the first event that fails and
exits 1 (2 for a file that is not such an export).
"""

import csv
import hashlib
import json
import sys
from datetime import datetime, timezone

FORMULA_START = tuple("=+-@\t\r\uFF1D\uFF0B\uFF0D\uFF20")
# The export's columns beside sealed_content's positions (lib/audit/sealed-content.ts).
TEXT_COLUMNS = {"id": 0, "actor_type": 2, "actor_id": 3, "actor": 4, "action": 5, "target_type": 6, "target_id": 7, "target": 8, "environment": 10, "outcome": 11, "reason": 12, "request_id": 15, "ip": 16}
JSON_COLUMNS = {"before": 13, "after": 14}
OCCURRED_AT = 1
REQUIRED = ["id", "occurred_at", "seq", "hash", "prev_hash", "sealed_content", *TEXT_COLUMNS, *JSON_COLUMNS]


def shown(cell: str, value) -> bool:
    """Whether an export cell shows `value` (None is an empty cell; a formula-like text is prefixed with ')."""
    expected = "" if value is None else str(value)
    return cell == expected or (expected.startswith(FORMULA_START) and cell == "'" + expected)


def postgres_time(text: str) -> datetime:
    """A timestamptz as Postgres prints it in ISO style ("2026-12-06 08:59:06.839212+00")."""
    head, sign, zone = text.rpartition("+") if "+" in text[10:] else text.rpartition("-")
    moment = datetime.fromisoformat(head.replace(" ", "T"))
    hours, _, minutes = zone.partition(":")
    offset = (int(hours) * 60 + int(minutes or 0)) * (1 if sign == "+" else -1)
    return moment.replace(tzinfo=timezone.utc).timestamp() - offset * 60


def fail(row: dict, problem: str) -> None:
    print(f"broken: event {row['id']} (position {row['seq']}): {problem}")
    sys.exit(1)


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    head = None
    if "--head" in argv:
        i = argv.index("--head")
        seq, _, hash_ = argv[i + 1].partition(":")
        head = (int(seq), hash_.lower())
        del argv[i : i + 2]
    with open(argv[0], newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            print(f"not an audit trail export with its chain: no column {', '.join(missing)}")
            sys.exit(2)
        rows = list(reader)
    sealed = sorted((r for r in rows if r["seq"]), key=lambda r: int(r["seq"]))
    for row in sealed:
        content = row["sealed_content"]
        if hashlib.sha256(f"{row['prev_hash']}\n{content}".encode()).hexdigest() != row["hash"]:
            fail(row, "its content does not match its hash (the row was altered)")
        values = json.loads(content)
        for column, at in TEXT_COLUMNS.items():
            if not shown(row[column], values[at]):
                fail(row, f"its {column} column says {row[column]!r}, the sealed content {values[at]!r}")
        for column, at in JSON_COLUMNS.items():
            if (json.loads(row[column]) if row[column] else None) != (json.loads(values[at]) if values[at] is not None else None):
                fail(row, f"its {column} column differs from the sealed content")
        exported = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00")).timestamp()
        if abs(exported - postgres_time(values[OCCURRED_AT])) >= 0.001:
            fail(row, f"its occurred_at column says {row['occurred_at']}, the sealed content {values[OCCURRED_AT]}")
    gaps = 0
    for before, after in zip(sealed, sealed[1:]):
        if int(after["seq"]) == int(before["seq"]) + 1:
            if after["prev_hash"] != before["hash"]:
                fail(after, "it does not point to the previous event's hash (an event before it was removed or replaced)")
        elif int(after["seq"]) == int(before["seq"]):
            fail(after, "its position appears twice")
        else:
            gaps += 1
    if head is not None:
        match = [r for r in sealed if int(r["seq"]) == head[0]]
        if not match or match[0]["hash"] != head[1]:
            print(f"broken: the export does not hold position {head[0]} with hash {head[1]}")
            sys.exit(1)
        # What the head vouches for: the run of consecutive positions that ends at it.
        reach = head[0]
        for r in reversed(sealed[: sealed.index(match[0])]):
            if int(r["seq"]) != reach - 1:
                break
            reach -= 1
    last = sealed[-1] if sealed else None
    span = f"positions {sealed[0]['seq']}–{last['seq']}" if last else "no sealed events"
    print(
        f"ok: {len(sealed)} sealed events verified ({span}), {gaps} gaps (a filtered export has them), {len(rows) - len(sealed)} not sealed yet"
        + (f"; last hash {last['hash']}" if last else "")
        + (f"; positions {reach}–{head[0]} are vouched for by the head given" if head is not None else "")
    )


if __name__ == "__main__":
    main(sys.argv[1:])
