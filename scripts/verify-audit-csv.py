#!/usr/bin/env python3
"""Checks a copy of the audit trail away from the database, with nothing but Python's standard library.

    python3 scripts/verify-audit-csv.py audit-2026-12-06.csv [--head SEQ:HASH]
    python3 scripts/verify-audit-csv.py audit-pages.json [--head SEQ:HASH]
    IAM_TOKEN=iamc_… python3 scripts/verify-audit-csv.py --api https://iam.example [--environment KEY] [--head SEQ:HASH]

The copy is the console's CSV export, pages of the REST API's GET /api/v1/audit-events saved as
JSON (one page, or several one after the other, or a list), or, with --api, every page read from
the API with the token in IAM_TOKEN.
For every sealed event (one with a position, `seq`):
  - its hash is SHA-256 of the previous hash, a newline and `sealed_content` (what the database
    hashed: every column as Postgres prints it, as one JSON array; lib/audit/sealed-content.ts);
  - the columns (or the API's fields) shown beside it say what `sealed_content` says (an edited
    actor, action, target, time, before or after is caught even if the hash was left alone);
  - where two events follow each other in the chain (positions n and n+1), the later one points to
    the earlier one's hash. A filtered copy has gaps; they are counted.
Anyone can compute a hash, so these checks alone show a copy is consistent, not that it is the
trail. With --head SEQ:HASH (from the console's "Verify the chain", run before the copy), every
event of the copy up to the head must be sealed and belong to the unbroken run of positions that
ends at that head: then none can have been made up, altered or left out without breaking a link to
it. Events sealed after the head are counted and said not to be covered by it. Copy
the whole trail for that (the export's Environment: all; an account-wide token for the API).

Prints one line and exits 0 when every check holds; otherwise names the first event that fails and
exits 1; exits 2 for a file that is not such a copy, or an API that refuses.
"""

import csv
import decimal
import hashlib
import json
import re
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
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


def read_csv(path: str) -> list[dict]:
    # A cell may be long (a deletion lists what went with it); the csv module stops at 128 KiB.
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            break
        except OverflowError:
            limit //= 2
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise NotAnExport(f"not an audit trail export with its chain: no column {', '.join(missing)}")
        rows = list(reader)
    for row in rows:
        row["problem"] = csv_problem
    return rows


def csv_problem(row: dict, values: list):
    """What a CSV row's shown columns say that its sealed content does not, or None."""
    for column, at in TEXT_COLUMNS.items():
        if not shown(row[column], values[at]):
            return f"its {column} column says {row[column]!r}, the sealed content {values[at]!r}"
    return None


# The REST API's fields beside sealed_content's positions (GET /api/v1/audit-events).
API_FIELDS = {"actor.type": 2, "actor.id": 3, "actor.label": 4, "action": 5, "target.type": 6, "target.id": 7, "target.label": 8, "environment": 10, "outcome": 11, "reason": 12, "requestId": 15, "ip": 16}
MAX_DOUBLE = 1.7976931348623157e308


def same_json(sealed, given) -> bool:
    """Whether the API's JSON value says what the sealed jsonb says. Types are strict (true is not 1);
    numbers compare as JavaScript holds them (the API answers from JavaScript), and a number beyond
    its range is null there, as JSON.stringify writes it."""
    if isinstance(sealed, bool) or isinstance(given, bool):
        return type(sealed) is type(given) and sealed == given
    if isinstance(sealed, (int, float, decimal.Decimal)):
        as_double = float(sealed) if abs(sealed) <= MAX_DOUBLE else None
        return (given is None and as_double is None) or (isinstance(given, (int, float)) and as_double == float(given))
    if isinstance(sealed, dict):
        return isinstance(given, dict) and sealed.keys() == given.keys() and all(same_json(sealed[k], given[k]) for k in sealed)
    if isinstance(sealed, list):
        return isinstance(given, list) and len(sealed) == len(given) and all(same_json(a, b) for a, b in zip(sealed, given))
    return type(sealed) is type(given) and sealed == given


def api_problem(row: dict, values: list):
    """What an API event's fields say that its sealed content does not, or None."""
    event = row["event"]
    for name, at in API_FIELDS.items():
        value = event
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value != values[at] or type(value) is not type(values[at]):
            return f"its {name} says {value!r}, the sealed content {values[at]!r}"
    for name, at in (("before", 13), ("after", 14)):
        # Decimals as exact integers or floats; one beyond a double's range stays a Decimal (compared below).
        sealed = None if values[at] is None else json.loads(values[at], parse_float=decimal.Decimal)
        if not same_json(sealed, event.get(name)):
            return f"its {name} says {json.dumps(event.get(name))}, the sealed content {values[at]}"
    return None


def api_row(event) -> dict:
    if not isinstance(event, dict) or "id" not in event or "sealedContent" not in event:
        raise NotAnExport("not audit events of the REST API with their chain (GET /api/v1/audit-events): an element has no id or sealedContent")
    seq = event.get("seq")
    return {
        "id": str(event["id"]),
        "seq": "" if seq is None else str(seq),
        "hash": event.get("hash") or "",
        "prev_hash": event.get("prevHash") or "",
        "sealed_content": event.get("sealedContent") or "",
        "occurred_at": event.get("occurredAt") or "",
        "event": event,
        "problem": api_problem,
    }


def events_of(value) -> list:
    """The events in one JSON value: a page of the API ({"data": [...]}), a list of events or pages, or an event."""
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        return value["data"]
    if isinstance(value, list):
        return [e for v in value for e in events_of(v)]
    return [value]


def read_json(text: str) -> list[dict]:
    """Pages (or events) as saved from the API: one JSON value, or several one after the other (pages appended by curl, JSON Lines)."""
    decoder = json.JSONDecoder()
    events, at = [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            break
        value, at = decoder.raw_decode(text, at)
        events.extend(events_of(value))
    return [api_row(e) for e in events]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise NotAnExport(f"the API answered {code}, a redirect to {newurl}: give its address itself (the token is not sent on)")


def read_api(base: str, token: str, environment) -> list[dict]:
    """Every page of GET /api/v1/audit-events (newest first, followed by its nextCursor)."""
    events, cursor = [], None
    while True:
        query = {"limit": "500", **({"environment": environment} if environment else {}), **({"cursor": cursor} if cursor else {})}
        request = urllib.request.Request(f"{base.rstrip('/')}/api/v1/audit-events?{urllib.parse.urlencode(query)}", headers={"authorization": f"Bearer {token}", "accept": "application/json"})
        try:
            # No redirects: the token is for this address only (urllib would send it on to another host).
            with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as response:
                page = json.load(response)
        except urllib.error.HTTPError as e:
            raise NotAnExport(f"the API refused: {e.code} {e.read().decode('utf-8', 'replace')[:500]}")
        events.extend(page.get("data", []))
        cursor = page.get("nextCursor")
        if not cursor:
            return [api_row(e) for e in events]


def option(argv: list[str], name: str):
    if name not in argv:
        return None
    i = argv.index(name)
    if i + 1 >= len(argv):
        raise NotAnExport(f"{name} needs a value")
    value = argv[i + 1]
    del argv[i : i + 2]
    return value


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    head_option = option(argv, "--head")
    head = None
    if head_option is not None:
        seq, _, hash_ = head_option.partition(":")
        if not seq.isdigit() or not re.fullmatch(r"[0-9a-fA-F]{64}", hash_):
            raise NotAnExport(f"--head takes SEQ:HASH as Verify shows it, not {head_option!r}")
        head = (int(seq), hash_.lower())
    api = option(argv, "--api")
    environment = option(argv, "--environment")
    if api:
        token = os.environ.get("IAM_TOKEN")
        if not token:
            raise NotAnExport("set IAM_TOKEN to an API token that reads the audit trail (account-wide for --head)")
        rows = read_api(api, token, environment)
    else:
        if len(argv) != 1:
            raise NotAnExport("give one file (a CSV export, or pages of GET /api/v1/audit-events saved as JSON), or --api URL")
        with open(argv[0], encoding="utf-8") as f:
            start = f.read(4096).lstrip()
        rows = read_json(open(argv[0], encoding="utf-8").read()) if start[:1] in ("{", "[") else read_csv(argv[0])
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
        problem = row["problem"](row, values)
        if problem:
            fail(row, problem)
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
        # Events sealed after the head (a live trail goes on growing while it is copied) are not
        # covered by it, and said so; an unsealed event (its place in the chain unknown), or a gap
        # before the head, fails.
        newer = sealed[at + 1 :]
        for row in unsealed:
            print(f"not vouched: event {row['id']} is not sealed (a forged row would look the same; export again once it is sealed, within seconds)")
            sys.exit(1)
        for row in sealed[:start]:
            print(f"not vouched: event {row['id']} (position {row['seq']}) is outside the unbroken run that ends at the head (positions {sealed[start]['seq']}–{head[0]}); export the whole trail")
            sys.exit(1)
        print(
            f"ok: all {len(rows) - len(newer)} events verified and vouched for by the head, positions {sealed[start]['seq']}–{head[0]}"
            + (f"; {len(newer)} newer event{'s are' if len(newer) > 1 else ' is'} not covered by this head (run Verify again to cover {'them' if len(newer) > 1 else 'it'})" if newer else "")
        )
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
