"""Bulk import of existing subscribers from CSV, streamed: a file of any length is read row by row,
so memory stays flat as it grows.

Two passes over the uploaded file. Validation reads it whole first: a broken file (not UTF-8, no
header, no `phone` column) fails the job before anything is applied, so an import is never half
applied. Row problems (invalid phone, unknown program, missing or unreadable consent time, a
consent time in the future, a NUL character, a do-not-contact number) are reported with their
line number and the row is skipped. Application then goes in
batches; every imported consent carries an `import_key` (file, phone, program, consent time), so
re-running the same file, or resuming after a crash, changes nothing. A subscriber who opted out
after the imported consent time is never opted back in.

Columns: phone (required), program (default: the job's), opted_in_at (ISO 8601, required), source,
consent_text, labels (separated by `;`), and any `attr_<name>` columns.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from libs.common.inputs import CLOCK_SKEW
from libs.common.phone import InvalidPhone, is_short_code, to_e164

REQUIRED = ("phone", "opted_in_at")
BATCH = 500


class BrokenFile(ValueError):
    """The file as a whole cannot be imported (encoding, header): nothing is applied."""


@dataclass(frozen=True)
class ImportRow:
    line: int
    phone: str
    program_id: str
    opted_in_at: datetime
    source: str
    consent_text: str | None
    labels: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)

    def key(self, file_name: str) -> str:
        raw = f"{file_name}|{self.phone}|{self.program_id}|{self.opted_in_at.isoformat()}"
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


def _parse_time(raw: str) -> datetime:
    """An ISO 8601 time in UTC (no offset means UTC); ValueError when it is none or falls off
    the calendar once in UTC (year 9999 with a negative offset)."""
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(raw) from exc


def parse_row(line: int, row: dict[str, str], default_program: str,
              programs: frozenset[str], now: datetime) -> ImportRow | RowError:
    if any("\x00" in (v or "") for v in row.values()):
        return RowError(line, "a field contains a NUL character")
    raw_phone = (row.get("phone") or "").strip()
    if not raw_phone:
        return RowError(line, "missing phone")
    try:
        phone = to_e164(raw_phone)
    except InvalidPhone:
        return RowError(line, f"invalid phone {raw_phone!r}")
    if is_short_code(phone):
        return RowError(line, f"invalid phone {raw_phone!r} (a short code)")
    program = (row.get("program") or "").strip() or default_program
    if program not in programs:
        return RowError(line, f"unknown program {program!r}")
    when = (row.get("opted_in_at") or "").strip()
    if not when:
        return RowError(line, "missing consent time (opted_in_at)")
    try:
        opted_in_at = _parse_time(when)
    except ValueError:
        return RowError(line, f"unreadable consent time {when!r} (use ISO 8601)")
    if opted_in_at > now + CLOCK_SKEW:
        return RowError(line, f"consent time {when!r} is in the future")
    labels = tuple(x.strip() for x in (row.get("labels") or "").split(";") if x.strip())
    attributes = {k[5:]: v for k, v in row.items() if k and k.startswith("attr_") and v}
    return ImportRow(line, phone, program, opted_in_at, (row.get("source") or "import").strip(),
                     (row.get("consent_text") or "").strip() or None, labels, attributes)


def read_rows(binary: io.BufferedIOBase, default_program: str, programs: frozenset[str],
              now: datetime) -> Iterator[ImportRow | RowError]:
    """Rows of an uploaded file, lines numbered as an editor shows them (header = line 1;
    quoted newlines inside a field count). Raises BrokenFile for a file that is not importable."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="", errors="strict")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except UnicodeDecodeError as exc:
        raise BrokenFile("the file is not UTF-8 text") from exc
    except csv.Error as exc:
        raise BrokenFile(f"unreadable CSV header: {exc}") from exc
    names = [h.strip().lower() for h in header or []]
    if "phone" not in names or "opted_in_at" not in names:
        raise BrokenFile("missing header: the first row must name the columns, with at least "
                         "phone and opted_in_at (optional: program, source, consent_text, labels, attr_*)")
    reader.fieldnames = names
    line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise BrokenFile(f"the file is not UTF-8 text (after line {line})") from exc
        except csv.Error as exc:
            raise BrokenFile(f"malformed CSV after line {line}: {exc}") from exc
        start, line = line + 1, reader.line_num
        if None in row:  # more fields than the header names
            yield RowError(start, "more fields than the header has columns")
            continue
        yield parse_row(start, row, default_program, programs, now)
