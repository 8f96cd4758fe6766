"""Import people and groups from a CSV file. ``plan_import`` reads every row and says what it would do
(create, update, unchanged) or why it cannot; ``apply_import`` does it, all or nothing, only when no
row has an error. People are matched by external id, so importing the same file again changes nothing.

Blank cells leave a person's value as it is; group memberships are added, never removed.
"""

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import Role, User
from attendance.models import Group
from attendance.selectors import visible_groups
from attendx.db import run_in_transaction

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
COLUMNS = ("external_id", "name", "first_name", "last_name", "email", "role", "groups", "contact_email", "username")
IMPORTABLE_ROLES = (Role.MEMBER, Role.STAFF)
TEMPLATE = (
    "external_id,first_name,last_name,email,role,groups,contact_email,username\r\n"
    "P1001,Ada,Lovelace,,member,Year 7;Chess club,guardian.lovelace@example.org,\r\n"
    "P1002,Alan,Turing,alan.turing@example.org,member,Year 7,,\r\n"
)

CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
_username_rule = UnicodeUsernameValidator()
_max_length = {name: User._meta.get_field(name).max_length for name in ("first_name", "last_name", "username")}
_max_length |= {"external_id": User._meta.get_field("external_id").max_length, "email": 254, "contact_email": 254}
_group_name_length = Group._meta.get_field("name").max_length


class ImportRefused(ValueError):
    """The file as a whole cannot be read as an import; ``message`` says why, for the page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ImportTooLarge(ImportRefused):
    """The file is over MAX_BYTES or MAX_ROWS."""


@dataclass(frozen=True)
class RowReport:
    """What importing one row does: its ``action``, or None and the ``errors`` that stop it."""

    line: int
    external_id: str
    name: str
    action: str | None
    errors: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()


@dataclass
class _Write:
    person: User | None  # None: a new person
    values: dict
    groups: list[str]  # the canonical names of the groups to add the person to


@dataclass(frozen=True)
class ImportPlan:
    rows: tuple[RowReport, ...]
    new_groups: tuple[str, ...]
    _writes: tuple[_Write, ...] = field(default=(), repr=False, compare=False)

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)

    @property
    def error_rows(self) -> list[RowReport]:
        return [row for row in self.rows if row.errors]

    def count(self, action: str) -> int:
        return sum(row.action == action for row in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        return {action: self.count(action) for action in (CREATE, UPDATE, UNCHANGED)}

    @property
    def to_change(self) -> int:
        return self.count(CREATE) + self.count(UPDATE)


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    applied: bool

    @property
    def created(self) -> int:
        return self.plan.count(CREATE) if self.applied else 0

    @property
    def updated(self) -> int:
        return self.plan.count(UPDATE) if self.applied else 0

    @property
    def unchanged(self) -> int:
        return self.plan.count(UNCHANGED) if self.applied else 0

    @property
    def groups_created(self) -> int:
        return len(self.plan.new_groups) if self.applied else 0


def people_named(names) -> tuple[dict[str, User], set[str]]:
    """The active people (members and staff, never devices) that each of ``names`` names by username
    or by external id, as a folder of photos does; and the names that name one person by username and
    another by external id, which name nobody."""
    names = set(names)
    people = User.objects.filter(Q(username__in=names) | Q(external_id__in=names), is_active=True).exclude(
        role=Role.KIOSK
    )
    by_username, by_external_id = {}, {}
    for person in people:
        by_username[person.username] = person
        if person.external_id:
            by_external_id[person.external_id] = person
    found, ambiguous = {}, set()
    for name in names:
        matches = {person.pk: person for person in (by_username.get(name), by_external_id.get(name)) if person}
        if len(matches) > 1:
            ambiguous.add(name)
        elif matches:
            found[name] = next(iter(matches.values()))
    return found, ambiguous


def decode_csv(data: bytes) -> str:
    """The text of an uploaded CSV file: UTF-8, with or without a byte order mark."""
    if len(data) > MAX_BYTES:
        raise ImportTooLarge(size_message())
    if b"\x00" in data:
        raise ImportRefused(
            _("This is not a CSV file: it holds binary data. Save the spreadsheet as “CSV UTF-8” and upload that.")
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRefused(
            _("This file is not UTF-8 text. Save the spreadsheet as “CSV UTF-8” and upload that.")
        ) from error


def size_message() -> str:
    return _("The file may be at most %(mb)d MB and %(rows)d rows: split it in parts.") % {
        "mb": MAX_BYTES // (1024 * 1024),
        "rows": MAX_ROWS,
    }


def _column_name(heading: str) -> str:
    return re.sub(r"[\s-]+", "_", heading.strip().lower())


def _read(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The column names and the (line number, cells) of each non-blank row."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ImportTooLarge(size_message())
    if "\x00" in text:
        raise ImportRefused(_("This is not a CSV file: it holds binary data."))
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise ImportRefused(_("The file is empty, or its first line is blank: it must name the columns."))
    # The header names only plain columns: whichever of the two it holds more of is the delimiter.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [_column_name(cell) for cell in next(reader)]
        records, line = [], reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
                if len(records) > MAX_ROWS:
                    raise ImportTooLarge(size_message())
    except csv.Error as error:
        raise ImportRefused(_("The file is not valid CSV near line %(line)d.") % {"line": line + 1}) from error
    _check_header(header)
    return header, records


def _check_header(header: list[str]) -> None:
    known = ", ".join(COLUMNS)
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ImportRefused(
            _("Unknown column “%(column)s” in the first line. The columns are: %(known)s.")
            % {"column": unknown[0][:40] or _("(blank)"), "known": known}
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ImportRefused(_("The column “%(column)s” appears twice.") % {"column": repeated[0]})
    if "external_id" not in header:
        raise ImportRefused(_("The first line must name the columns, external_id among them."))
    if "name" in header and {"first_name", "last_name"} & set(header):
        raise ImportRefused(_("Give either a name column or first_name and last_name, not both."))
    if not {"name", "first_name", "last_name"} & set(header):
        raise ImportRefused(_("The file needs a name column, or first_name and last_name."))


@dataclass
class _Row:
    line: int
    external_id: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str | None = None  # None: blank, leave it as it is
    role: str | None = None
    username: str | None = None
    contact_email: str | None = None
    groups: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def _email(value: str, row: _Row, label: str) -> str | None:
    value = value.strip().lower()
    if not value:
        return None
    if len(value) > 254:
        row.errors.append(_("%(field)s is longer than 254 characters") % {"field": label})
        return None
    try:
        validate_email(value)
    except ValidationError:
        row.errors.append(_("invalid %(field)s “%(value)s”") % {"field": label, "value": value[:80]})
        return None
    return value


def _parse(line: int, cells: list[str], header: list[str], by: User | None) -> _Row:
    row = _Row(line=line)
    if len(cells) > len(header):
        row.errors.append(
            _("%(cells)d values but the first line names %(columns)d columns")
            % {"cells": len(cells), "columns": len(header)}
        )
    values = dict(zip(header, [cell.strip() for cell in cells], strict=False))
    row.external_id = values.get("external_id", "")
    if not row.external_id:
        row.errors.append(_("missing external id"))
    if "name" in header:
        first, _space, last = values.get("name", "").rpartition(" ")
        row.first_name, row.last_name = (first.strip(), last) if first else (last, "")
    else:
        row.first_name, row.last_name = values.get("first_name", ""), values.get("last_name", "")
    if not row.name:
        row.errors.append(_("missing name"))
    long_names = {"external_id": _("external id"), "first_name": _("first name"), "last_name": _("last name")}
    for attribute, label in long_names.items():
        if len(getattr(row, attribute)) > _max_length[attribute]:
            row.errors.append(
                _("%(field)s is longer than %(limit)d characters") % {"field": label, "limit": _max_length[attribute]}
            )
    row.email = _email(values.get("email", ""), row, _("email address"))
    row.contact_email = _email(values.get("contact_email", ""), row, _("contact email"))
    role = values.get("role", "").lower()
    if role:
        if role not in IMPORTABLE_ROLES:
            row.errors.append(
                _("role “%(role)s” cannot be imported: use member or staff") % {"role": values["role"][:40]}
            )
        elif role == Role.STAFF and not _is_admin(by):
            row.errors.append(_("only an administrator may import staff"))
        else:
            row.role = role
    username = values.get("username", "")
    if username:
        if len(username) > _max_length["username"]:
            row.errors.append(
                _("username is longer than %(limit)d characters") % {"limit": _max_length["username"]}
            )
        else:
            try:
                _username_rule(username)
                row.username = username
            except ValidationError:
                row.errors.append(
                    _("username “%(username)s” may hold only letters, digits and @ . + - _")
                    % {"username": username[:40]}
                )
    for name in values.get("groups", "").split(";"):
        name = name.strip()
        if len(name) > _group_name_length:
            row.errors.append(
                _("group name “%(group)s…” is longer than %(limit)d characters")
                % {"group": name[:40], "limit": _group_name_length}
            )
        elif name and name.casefold() not in {group.casefold() for group in row.groups}:
            row.groups.append(name)
    return row


def _is_admin(by: User | None) -> bool:
    return by is None or by.role == Role.ADMIN


def _lines(lines: list[int], own: int) -> str:
    return ", ".join(str(line) for line in lines if line != own)


def _flag_repeats(rows: list[_Row], key, message: str) -> None:
    lines = defaultdict(list)
    for row in rows:
        if key(row):
            lines[key(row)].append(row.line)
    for row in rows:
        if key(row) and len(lines[key(row)]) > 1:
            row.errors.append(message % {"value": key(row)[:80], "lines": _lines(lines[key(row)], row.line)})


def _username_base(external_id: str) -> str:
    return (re.sub(r"[^\w.@+-]", "-", external_id.lower()).strip("-") or "person")[: _max_length["username"] - 6]


def _free_username(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``...: the first that no account and no other row has.
    ``taken`` holds the usernames of the file and those of the accounts named like a base."""
    candidate, number = base, 1
    while candidate in taken or (number > 1 and User.objects.filter(username=candidate).exists()):
        number += 1
        candidate = f"{base}-{number}"
    taken.add(candidate)
    return candidate


def plan_import(*, text: str, by: User | None) -> ImportPlan:
    """What importing ``text`` (a CSV file's text) as ``by`` would do, row by row; writes nothing.

    ``by`` None is an administrator at the command line (new groups then have no owner). Raises
    ImportRefused when the file cannot be read at all, ImportTooLarge when it is over the limits.
    """
    header, records = _read(text)
    rows = [_parse(line, cells, header, by) for line, cells in records]
    _flag_repeats(rows, lambda row: row.external_id, _("external id %(value)s is also on line %(lines)s"))
    _flag_repeats(rows, lambda row: row.email, _("email address %(value)s is also on line %(lines)s"))
    _flag_repeats(rows, lambda row: row.username, _("username %(value)s is also on line %(lines)s"))

    existing = {p.external_id: p for p in User.objects.filter(external_id__in=[r.external_id for r in rows])}
    by_email = {p.email: p for p in User.objects.filter(email__in=[r.email for r in rows if r.email])}
    by_username = {p.username: p for p in User.objects.filter(username__in=[r.username for r in rows if r.username])}
    groups = {group.name.casefold(): group for group in Group.objects.all()}
    runs = None if _is_admin(by) else set(visible_groups(by).values_list("pk", flat=True))
    memberships = set(
        Group.members.through.objects.filter(user__in=[p.pk for p in existing.values()]).values_list(
            "user_id", "group_id"
        )
    )
    bases = [_username_base(row.external_id) for row in rows if not row.username and row.external_id not in existing]
    taken = {row.username for row in rows if row.username} | {p.username for p in existing.values()}
    taken |= set(User.objects.filter(username__in=bases).values_list("username", flat=True))

    reports, writes, new_groups = [], [], {}
    for row in rows:
        person = existing.get(row.external_id)
        for value, owners, message in (
            (row.email, by_email, _("email address %(value)s is already used by another account")),
            (row.username, by_username, _("username %(value)s is already used by another account")),
        ):
            owner = owners.get(value)
            if owner is not None and owner != person:
                row.errors.append(message % {"value": value[:80]})
        joins = []
        for name in row.groups:
            group = groups.get(name.casefold())
            if group is None:
                joins.append(new_groups.setdefault(name.casefold(), name))
            elif person is None or (person.pk, group.pk) not in memberships:
                if runs is not None and group.pk not in runs:
                    row.errors.append(_("you do not run the group “%(group)s”") % {"group": group.name})
                joins.append(group.name)
        values, changes = _changes(row, person)
        if joins:
            changes.append(_("groups: %(groups)s") % {"groups": ", ".join(f"+{name}" for name in joins)})
        if person is not None and changes:
            _check_may_change(row, person, by)
        if row.errors:
            reports.append(RowReport(row.line, row.external_id, row.name, None, tuple(row.errors)))
            continue
        if person is None:
            values["username"] = row.username or _free_username(_username_base(row.external_id), taken)
            values |= {"external_id": row.external_id, "role": row.role or Role.MEMBER}
        action = CREATE if person is None else UPDATE if changes else UNCHANGED
        reports.append(RowReport(row.line, row.external_id, row.name, action, changes=tuple(changes)))
        if action != UNCHANGED:
            writes.append(_Write(person=person, values=values, groups=joins))
    if any(report.errors for report in reports):
        return ImportPlan(rows=tuple(reports), new_groups=())
    return ImportPlan(rows=tuple(reports), new_groups=tuple(new_groups.values()), _writes=tuple(writes))


def _changes(row: _Row, person: User | None) -> tuple[dict, list[str]]:
    """The fields to set, and for a known person what changes, in words."""
    wanted = {"first_name": row.first_name, "last_name": row.last_name}
    optional = {"email": row.email, "role": row.role, "username": row.username, "contact_email": row.contact_email}
    wanted |= {name: value for name, value in optional.items() if value is not None}
    if person is None:
        return wanted, []
    values = {name: value for name, value in wanted.items() if getattr(person, name) != value}
    labels = {
        "first_name": _("name"),
        "last_name": _("name"),
        "email": _("email address"),
        "role": _("role"),
        "username": _("username"),
        "contact_email": _("contact email"),
    }
    return values, list(dict.fromkeys(labels[name] for name in values))


def _check_may_change(row: _Row, person: User, by: User | None) -> None:
    if person.role == Role.KIOSK:
        row.errors.append(_("external id %(value)s belongs to a device account") % {"value": row.external_id})
    elif person.role == Role.ADMIN:
        row.errors.append(
            _("external id %(value)s belongs to an administrator, whom an import does not change")
            % {"value": row.external_id}
        )
    elif person.role == Role.STAFF and not _is_admin(by):
        row.errors.append(_("only an administrator may change a staff member's account"))


def apply_import(*, text: str, by: User | None) -> ImportResult:
    """Import ``text`` as ``by``, all or nothing: planned again inside the transaction, and written only
    when no row has an error (``applied`` says which). New people get no usable password."""

    def write() -> ImportResult:
        plan = plan_import(text=text, by=by)
        if plan.has_errors:
            return ImportResult(plan=plan, applied=False)
        groups = {name: Group.objects.create(name=name, owner=by) for name in plan.new_groups}
        joining = defaultdict(list)
        for change in plan._writes:
            person = change.person or User(**change.values)
            if change.person is None:
                person.set_unusable_password()
                person.save()
            elif change.values:
                for name, value in change.values.items():
                    setattr(person, name, value)
                # save() derives is_staff and is_superuser from the role.
                extra = ["is_staff", "is_superuser"] if "role" in change.values else []
                person.save(update_fields=[*change.values, *extra])
            for name in change.groups:
                joining[name].append(person)
        for name, people in joining.items():
            group = groups.get(name) or Group.objects.get(name=name)
            group.members.add(*people)
        return ImportResult(plan=plan, applied=True)

    try:
        return run_in_transaction(write)
    except IntegrityError as error:
        raise ImportRefused(
            _("Someone changed these people while the file was being imported. Nothing was imported: try again.")
        ) from error
