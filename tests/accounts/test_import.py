"""Importing people and groups from a CSV file: the report of every row, all or nothing, re-imports
that change nothing, the staff page (check, then import) and the import_people command."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts import importing
from accounts.models import Role, User
from attendance.models import Group
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("accounts:import-people")
PUPILS = (
    "external_id,first_name,last_name,email,groups,contact_email\n"
    "P1001,Ada,Lovelace,,Year 7;Chess club,guardian.lovelace@example.org\n"
    "P1002,Alan,Turing,alan.turing@example.org,Year 7,\n"
)


@pytest.fixture
def admin(db):
    return UserFactory(role=Role.ADMIN)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def upload(text: str | bytes, name="people.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def rows_of(plan) -> dict[int, importing.RowReport]:
    return {row.line: row for row in plan.rows}


def snapshot() -> tuple:
    people = sorted(User.objects.values_list("username", "email", "first_name", "external_id", "role"))
    return people, sorted(Group.objects.values_list("name", flat=True))


# Planning: every row reported, by its line.


def test_each_bad_row_is_reported_by_line_with_its_errors_and_nothing_is_imported(staff):
    UserFactory(username="taken", email="taken@example.org")
    text = (
        "external_id,name,email,role\n"
        "P1,Ada Lovelace,ada@example.org,\n"  # 2: fine
        ",No Number,,\n"  # 3
        "P3,,,\n"  # 4
        "P4,Bad Mail,not-an-address,\n"  # 5
        "P5,Odd Role,,teacher\n"  # 6
        "P6,First Copy,,\n"  # 7
        "P6,Second Copy,,\n"  # 8
        "P8,Same Mail,same@example.org,\n"  # 9
        "P9,Same Mail Too,SAME@example.org,\n"  # 10
        "P10,Has Taken,taken@example.org,\n"  # 11
        f"{'X' * 65},Long Number,,\n"  # 12
        "P12,Would Be Device,,kiosk\n"  # 13
        "P13,Would Be Teacher,,staff\n"  # 14
        "P14,Too,Many,Values,here\n"  # 15
    )
    before = snapshot()
    plan = importing.plan_import(text=text, by=staff)
    rows = rows_of(plan)
    assert rows[2].action == "create" and not rows[2].errors
    assert rows[3].errors == ("missing external id",)
    assert rows[4].errors == ("missing name",)
    assert rows[5].errors == ("invalid email address “not-an-address”",)
    assert "role “teacher” cannot be imported" in rows[6].errors[0]
    assert rows[7].errors == ("external id P6 is also on line 8",)
    assert rows[8].errors == ("external id P6 is also on line 7",)
    assert rows[9].errors == ("email address same@example.org is also on line 10",)
    assert rows[10].errors == ("email address same@example.org is also on line 9",)
    assert rows[11].errors == ("email address taken@example.org is already used by another account",)
    assert rows[12].errors == ("external id is longer than 64 characters",)
    assert "role “kiosk” cannot be imported" in rows[13].errors[0]
    assert rows[14].errors == ("only an administrator may import staff",)
    assert "5 values but the first line names 4 columns" in rows[15].errors[0]
    assert plan.has_errors and len(plan.error_rows) == 13
    result = importing.apply_import(text=text, by=staff)
    assert not result.applied and result.created == 0
    assert snapshot() == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty"),
        ("name,email\nAda,ada@example.org\n", "external_id among them"),
        ("external_id,nmae\nP1,Ada\n", "Unknown column “nmae”"),
        ("external_id,email\nP1,ada@example.org\n", "needs a name column"),
        ("external_id,name,name\nP1,Ada,Ada\n", "“name” appears twice"),
        ("external_id,name,first_name\nP1,Ada,Ada\n", "not both"),
    ],
)
def test_a_file_whose_first_line_is_not_a_header_is_refused_whole(staff, text, message):
    with pytest.raises(importing.ImportRefused, match=message):
        importing.plan_import(text=text, by=staff)


def test_semicolons_a_byte_order_mark_and_headings_in_any_case_and_order(staff):
    data = "\ufeffName;Email;EXTERNAL ID;Groups\nAda King Lovelace;ADA@Example.org;P1;\"Year 7; Chess\"\n"
    result = importing.apply_import(text=importing.decode_csv(data.encode("utf-8")), by=staff)
    assert result.applied and result.created == 1 and result.groups_created == 2
    ada = User.objects.get(external_id="P1")
    assert (ada.first_name, ada.last_name, ada.email, ada.username) == ("Ada King", "Lovelace", "ada@example.org", "p1")
    assert ada.role == Role.MEMBER and not ada.has_usable_password()
    assert sorted(ada.attendance_groups.values_list("name", flat=True)) == ["Chess", "Year 7"]
    assert set(Group.objects.values_list("owner", flat=True)) == {staff.pk}


# Applying: all or nothing, idempotent.


def test_importing_the_same_file_again_changes_nothing_and_a_changed_row_updates_its_person(staff):
    first = importing.apply_import(text=PUPILS, by=staff)
    assert (first.created, first.updated, first.groups_created) == (2, 0, 2)
    ada = User.objects.get(external_id="P1001")
    assert ada.contact_email == "guardian.lovelace@example.org" and ada.email is None
    before = snapshot()

    again = importing.apply_import(text=PUPILS, by=staff)
    assert [row.action for row in again.plan.rows] == ["unchanged", "unchanged"]
    assert snapshot() == before and Group.objects.count() == 2

    changed = PUPILS.replace("Lovelace,,Year 7;Chess club", "King,ada@example.org,Year 7").replace(
        "Year 7,\n", "Year 7;Robotics,\n"
    )
    plan = importing.plan_import(text=changed, by=staff)
    ada_row, alan_row = plan.rows
    assert ada_row.action == "update" and ada_row.changes == ("name", "email address")
    assert alan_row.action == "update" and alan_row.changes == ("groups: +Robotics",)
    importing.apply_import(text=changed, by=staff)
    ada.refresh_from_db()
    assert (ada.last_name, ada.email, ada.username) == ("King", "ada@example.org", "p1001")
    # Chess club is no longer in Ada's row, and she stays in it: memberships are only ever added.
    assert sorted(ada.attendance_groups.values_list("name", flat=True)) == ["Chess club", "Year 7"]
    assert User.objects.filter(external_id__isnull=False).count() == 2


def test_usernames_are_made_from_the_external_id_and_kept_unique(staff):
    UserFactory(username="p1001")
    importing.apply_import(text=PUPILS, by=staff)
    assert User.objects.get(external_id="P1001").username == "p1001-2"
    text = "external_id,name,username\nP9,Grace Hopper,p1002\n"
    [row] = importing.plan_import(text=text, by=staff).rows
    assert row.errors == ("username p1002 is already used by another account",)


def test_only_an_administrator_imports_staff_or_changes_a_staff_account(staff, admin):
    UserFactory(role=Role.STAFF, external_id="S1", first_name="Alan", last_name="Turing")
    text = "external_id,name,role\nS1,Alan M. Turing,\nS2,Grace Hopper,staff\n"
    changing, importing_staff = importing.plan_import(text=text, by=staff).rows
    assert changing.errors == ("only an administrator may change a staff member's account",)
    assert importing_staff.errors == ("only an administrator may import staff",)
    result = importing.apply_import(text=text, by=admin)
    assert result.applied and User.objects.get(external_id="S2").is_staff
    assert User.objects.get(external_id="S1").first_name == "Alan M."


def test_staff_add_people_only_to_the_groups_they_run(staff, admin):
    Group.objects.create(name="Year 7", owner=admin)
    [row] = importing.plan_import(text="external_id,name,groups\nP1,Ada Lovelace,year 7\n", by=staff).rows
    assert row.errors == ("you do not run the group “Year 7”",)
    Group.objects.create(name="Year 8", owner=staff)
    importing.apply_import(text="external_id,name,groups\nP1,Ada Lovelace,year 8\n", by=staff)
    assert list(User.objects.get(external_id="P1").attendance_groups.values_list("name", flat=True)) == ["Year 8"]


# The staff page.


def test_the_page_checks_a_file_then_imports_it(staff_client, staff):
    page = staff_client.get(PAGE)
    assert page.status_code == 200 and reverse("accounts:import-template") in page.content.decode()

    report = staff_client.post(PAGE, {"file": upload(PUPILS)})
    text = report.content.decode()
    assert report.status_code == 200
    assert 'data-line="2"' in text and "P1001" in text and "Ada Lovelace" in text and "badge ok" in text
    assert "2 to create, 0 to update, 0 unchanged." in text and "Import 2 people" in text
    assert not User.objects.filter(external_id__isnull=False).exists()  # checking writes nothing

    done = staff_client.post(PAGE, {"csv": report.context["confirm_form"]["csv"].value()}, follow=True)
    assert done.redirect_chain == [(PAGE, 302)]
    assert "Imported: 2 created, 0 updated, 0 unchanged; new groups: 2." in done.content.decode()
    assert set(User.objects.filter(external_id__isnull=False).values_list("external_id", flat=True)) == {
        "P1001",
        "P1002",
    }
    again = staff_client.post(PAGE, {"file": upload(PUPILS)}).content.decode()
    assert "0 to create, 0 to update, 2 unchanged." in again and "Nothing to import" in again


def test_the_page_shows_the_errors_of_each_row_and_offers_no_import(staff_client):
    response = staff_client.post(PAGE, {"file": upload("external_id,name,email\nP1,Ada,nope\n,Alan Turing,\n")})
    text = response.content.decode()
    assert response.status_code == 400
    assert "1 row has errors" not in text and "2 rows have errors" in text
    assert "invalid email address “nope”" in text and "missing external id" in text
    assert "badge bad" in text and 'id="import-confirm"' not in text
    assert not User.objects.filter(external_id__isnull=False).exists()


def test_an_import_sent_back_is_checked_again(staff_client):
    UserFactory(email="alan.turing@example.org")  # since the file was checked
    response = staff_client.post(PAGE, {"csv": PUPILS})
    assert response.status_code == 400
    assert "already used by another account" in response.content.decode()
    assert not User.objects.filter(external_id__isnull=False).exists() and not Group.objects.exists()


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00binary", 400, "holds binary data"),
        ("external_id,name\nP1,Zoë\n".encode("latin-1"), 400, "not UTF-8 text"),
        (b"external_id,name\n" + b"P1,Ada Lovelace\n" * (importing.MAX_ROWS + 1), 413, "at most 2 MB and 5000 rows"),
        (b"external_id,name\n" + b"x" * importing.MAX_BYTES, 413, "at most 2 MB"),
        (b"external_id,nmae\nP1,Ada\n", 400, "Unknown column"),
    ],
)
def test_a_file_that_is_not_an_import_is_refused_with_its_status(staff_client, data, status, message):
    response = staff_client.post(PAGE, {"file": upload(data)})
    assert response.status_code == status
    assert message in response.content.decode()
    assert not User.objects.filter(external_id__isnull=False).exists()


def test_an_oversized_text_sent_back_is_refused(staff_client):
    response = staff_client.post(PAGE, {"csv": "external_id,name\n" + "x" * importing.MAX_BYTES})
    assert response.status_code == 413


def test_the_template_downloads_and_imports_cleanly(staff_client, staff):
    response = staff_client.get(reverse("accounts:import-template"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    plan = importing.plan_import(text=importing.decode_csv(response.content), by=staff)
    assert not plan.has_errors and plan.counts["create"] == 2


@pytest.mark.parametrize("role", [Role.MEMBER, Role.KIOSK])
def test_only_staff_reach_the_import_page(client, role):
    client.force_login(UserFactory(role=role))
    assert client.get(PAGE).status_code == 403
    assert client.get(reverse("accounts:import-template")).status_code == 403
    assert client.post(PAGE, {"csv": PUPILS}).status_code == 403
    assert not User.objects.filter(external_id__isnull=False).exists()


# The command.


def import_people(*args) -> tuple[str, str | None]:
    out = StringIO()
    try:
        call_command("import_people", *args, stdout=out, stderr=StringIO())
    except CommandError as error:
        return out.getvalue(), str(error)
    return out.getvalue(), None


def test_the_command_dry_run_prints_each_row_and_writes_nothing(tmp_path, staff):
    path = tmp_path / "pupils.csv"
    path.write_text(PUPILS)
    output, error = import_people(str(path), "--dry-run", "--by", staff.username)
    assert error is None
    assert "line 2: P1001 Ada Lovelace: create (groups: +Year 7, +Chess club)" in output.splitlines()
    assert "Dry run: nothing was written." in output
    assert not User.objects.filter(external_id__isnull=False).exists() and not Group.objects.exists()

    output, error = import_people(str(path), "--by", staff.username)
    assert error is None and "2 created, 0 updated, 0 unchanged; 2 new group(s)." in output
    assert Group.objects.get(name="Year 7").owner == staff
    output, error = import_people(str(path))
    assert "line 3: P1002 Alan Turing: unchanged" in output and "0 created, 0 updated, 2 unchanged" in output


def test_the_command_fails_on_any_error_and_imports_nothing(tmp_path, member):
    path = tmp_path / "pupils.csv"
    path.write_text(PUPILS + "P1003,,\n")
    output, error = import_people(str(path))
    assert error == "1 row(s) with errors: nothing was imported."
    assert "line 4: P1003 : error: missing name" in output
    assert not User.objects.filter(external_id__isnull=False).exists()
    assert "no active staff account" in import_people(str(path), "--by", member.username)[1]
    assert "No such file" in import_people(str(tmp_path / "missing.csv"))[1]
    (tmp_path / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert "holds binary data" in import_people(str(tmp_path / "photo.csv"))[1]
