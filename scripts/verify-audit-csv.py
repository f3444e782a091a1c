#!/usr/bin/env python3
"""Checks an audit trail CSV export away from the database, with nothing but Python's standard library.

    python3 scripts/verify-audit-csv.py audit-2026-12-06.csv [--head SEQ:HASH]

For every sealed event (one with a position, `seq`):
  - its hash is SHA-256 of the previous hash, a newline and `sealed_content` (what the database
    hashed: every column as Postgres prints it, as one JSON array; lib/audit/sealed-content.ts);
  - the columns shown beside it say what `sealed_content` says (an edited actor, action, target,
    time, before or after is caught even if the hash columns were left alone);
  - where two events follow each other in the chain (positions n and n+1), the later one points to
    the earlier one's hash. A filtered export has gaps; they are counted.
Anyone can compute a hash, so these checks alone show a copy is consistent, not that it is the
trail. With --head SEQ:HASH (from the console's "Verify the chain", run before the export), every
event of the copy must be sealed and belong to the unbroken run of positions that ends at that
head: then none can have been made up, altered or left out without breaking a link to it. Export
the whole trail for that (Environment: all).

Prints one line and exits 0 when every check holds; otherwise names the first event that fails and
exits 1; exits 2 for a file that is not such an export.
"""

import csv
import hashlib
import json
import re
import sys
from datetime import datetime, timedelta, timezone

FORMULA_START = tuple("=+-@\t\r\uFF1D\uFF0B\uFF0D\uFF20")
# The export's columns beside sealed_content's positions (lib/audit/sealed-content.ts).
# (before and after are exported as Postgres prints them, as sealed.)
TEXT_COLUMNS = {"id": 0, "actor_type": 2, "actor_id": 3, "actor": 4, "action": 5, "target_type": 6, "target_id": 7, "target": 8, "environment": 10, "outcome": 11, "reason": 12, "before": 13, "after": 14, "request_id": 15, "ip": 16}
OCCURRED_AT = 1
REQUIRED = ["id", "occurred_at", "seq", "hash", "prev_hash", "sealed_content", *TEXT_COLUMNS]
# A timestamptz as Postgres prints it in ISO style: "2026-12-06 08:59:06.83+00", "… 10:00:00+05:45".
POSTGRES_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$")
# The export's own time: ISO with milliseconds and Z (JavaScript's toISOString).
EXPORT_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z$")


class NotAnExport(Exception):
    pass


def shown(cell: str, value) -> bool:
    """Whether an export cell shows `value` (None is an empty cell; a formula-like text is prefixed with ')."""
    expected = "" if value is None else str(value)
    return cell == expected or (expected.startswith(FORMULA_START) and cell == "'" + expected)


def moment(text: str, pattern: re.Pattern) -> datetime:
    """A time as a UTC datetime (by hand: datetime.fromisoformat takes every form only from Python 3.11)."""
    m = pattern.match(text)
    if not m:
        raise NotAnExport(f"not a time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0").ljust(6, "0"))
    at = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    if pattern is POSTGRES_TIME:
        offset = timedelta(hours=int(m.group(9)), minutes=int(m.group(10) or 0), seconds=int(m.group(11) or 0))
        at -= offset if m.group(8) == "+" else -offset
    return at


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
    # A cell may be long (a deletion lists what went with it); the csv module stops at 128 KiB.
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            break
        except OverflowError:
            limit //= 2
    with open(argv[0], newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise NotAnExport(f"not an audit trail export with its chain: no column {', '.join(missing)}")
        rows = list(reader)
    for row in rows:
        if row["seq"] and not row["seq"].isdigit():
            raise NotAnExport(f"event {row['id']}: its position is not a number: {row['seq']!r}")
    sealed = sorted((r for r in rows if r["seq"]), key=lambda r: int(r["seq"]))
    for row in sealed:
        content = row["sealed_content"]
        if hashlib.sha256(f"{row['prev_hash']}\n{content}".encode()).hexdigest() != row["hash"]:
            fail(row, "its content does not match its hash (the row was altered)")
        try:
            values = json.loads(content)
            assert isinstance(values, list) and len(values) == 17
        except (ValueError, AssertionError):
            raise NotAnExport(f"event {row['id']}: its sealed content is not the 17 columns of an audit event")
        for column, at in TEXT_COLUMNS.items():
            if not shown(row[column], values[at]):
                fail(row, f"its {column} column says {row[column]!r}, the sealed content {values[at]!r}")
        try:
            exported = moment(row["occurred_at"], EXPORT_TIME)
        except NotAnExport:
            fail(row, f"its occurred_at column is not a time: {row['occurred_at']!r}")
        if abs(exported - moment(values[OCCURRED_AT], POSTGRES_TIME)) >= timedelta(milliseconds=1):
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
    unsealed = [r for r in rows if not r["seq"]]
    if head is not None:
        match = [r for r in sealed if int(r["seq"]) == head[0]]
        if not match or match[0]["hash"] != head[1]:
            print(f"broken: the export does not hold position {head[0]} with hash {head[1]}")
            sys.exit(1)
        # What the head vouches for: the run of consecutive positions that ends at it, and only that.
        at = sealed.index(match[0])
        start = at
        while start > 0 and int(sealed[start - 1]["seq"]) == int(sealed[start]["seq"]) - 1:
            start -= 1
        for row in unsealed:
            print(f"not vouched: event {row['id']} is not sealed (a forged row would look the same; export again once it is sealed, within seconds)")
            sys.exit(1)
        for row in sealed[:start] + sealed[at + 1 :]:
            print(f"not vouched: event {row['id']} (position {row['seq']}) is outside the unbroken run that ends at the head (positions {sealed[start]['seq']}–{head[0]}); export the whole trail")
            sys.exit(1)
        print(f"ok: all {len(rows)} events verified and vouched for by the head, positions {sealed[start]['seq']}–{head[0]}")
        return
    last = sealed[-1] if sealed else None
    span = f"positions {sealed[0]['seq']}–{last['seq']}" if last else "no sealed events"
    print(
        f"ok: {len(sealed)} sealed events consistent ({span}), {gaps} gaps (a filtered export has them), {len(unsealed)} not sealed yet"
        + (f"; last hash {last['hash']}" if last else "")
        + "; not vouched for: pass --head SEQ:HASH from Verify"
    )


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except NotAnExport as e:
        print(str(e))
        sys.exit(2)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as e:
        print(f"not a readable audit trail export: {e}")
        sys.exit(2)
