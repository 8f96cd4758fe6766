"""attendx.db and keys in URLs, on the database of this run: SQLite, or MongoDB when MONGODB_URI is set."""

import threading

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts.models import SessionCacheEpoch, User
from attendx.db import atomic, is_reachable, on_commit, run_in_transaction
from tests.conftest import run_together

pytestmark = pytest.mark.django_db(transaction=True)

TRANSIENT = "TransientTransactionError"  # MongoDB's label for "run the transaction again"


def in_another_thread(read):
    """``read()`` on another connection, as another request or process would see the database."""
    result = []

    def run():
        try:
            result.append(read())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return result[0]


def test_atomic_is_all_or_nothing():
    with pytest.raises(RuntimeError), atomic():
        User.objects.create(username="first")
        User.objects.create(username="second")
        raise RuntimeError("the service failed half way")
    assert not User.objects.filter(username__in=["first", "second"]).exists()


def test_a_duplicate_key_undoes_the_whole_block():
    User.objects.create(username="ada")
    with pytest.raises(IntegrityError), atomic():
        User.objects.create(username="grace")
        User.objects.create(username="ada")
    assert list(User.objects.values_list("username", flat=True)) == ["ada"]


def test_other_connections_see_nothing_before_the_commit():
    with atomic():
        User.objects.create(username="pending")
        assert in_another_thread(lambda: User.objects.filter(username="pending").exists()) is False
    assert in_another_thread(lambda: User.objects.filter(username="pending").exists()) is True


def test_on_commit_runs_after_the_commit_and_never_after_a_rollback():
    calls = []
    with atomic():
        on_commit(lambda: calls.append("committed"))
        assert calls == []
    assert calls == ["committed"]
    with pytest.raises(RuntimeError), atomic():
        on_commit(lambda: calls.append("rolled back"))
        raise RuntimeError
    assert calls == ["committed"]


def test_atomic_inside_djangos_own_atomic_commits_and_runs_on_commit():
    # The admin wraps its views in django.db.transaction.atomic() (a no-op on MongoDB); services called
    # there still commit, and their on_commit callbacks run.
    calls = []
    with transaction.atomic():
        with atomic():
            User.objects.create(username="inside")
            on_commit(lambda: calls.append("committed"))
    assert calls == ["committed"]
    assert in_another_thread(lambda: User.objects.filter(username="inside").exists()) is True


def test_atomic_decorates_without_touching_the_database_at_import():
    @atomic()
    def create(name):
        User.objects.create(username=name)
        raise RuntimeError

    with pytest.raises(RuntimeError):
        create("decorated")
    assert not User.objects.filter(username="decorated").exists()


class TransientError(Exception):
    """Stands for a pymongo error that MongoDB labelled TransientTransactionError."""

    def has_error_label(self, label):
        return label == TRANSIENT


def test_only_transient_conflicts_are_run_again():
    calls = []

    def conflicts_once():
        calls.append("try")
        User.objects.create(username=f"try{len(calls)}")
        if len(calls) == 1:
            raise DatabaseError("write conflict") from TransientError()
        return "done"

    assert run_in_transaction(conflicts_once) == "done"
    assert calls == ["try", "try"]
    assert list(User.objects.values_list("username", flat=True)) == ["try2"]

    calls.clear()

    def duplicate():
        calls.append("try")
        raise IntegrityError("duplicate key")

    with pytest.raises(IntegrityError):
        run_in_transaction(duplicate)
    assert calls == ["try"]


def test_inside_an_enclosing_transaction_only_the_outermost_is_run_again():
    calls = []

    def inner():
        calls.append("inner")
        if calls.count("inner") == 1:
            raise DatabaseError("write conflict") from TransientError()

    def outer():
        calls.append("outer")
        User.objects.create(username=f"outer{calls.count('outer')}")
        run_in_transaction(inner)

    run_in_transaction(outer)
    assert calls == ["outer", "inner", "outer", "inner"]
    assert list(User.objects.values_list("username", flat=True)) == ["outer2"]


def test_racing_transactions_that_read_then_insert_make_one_row():
    """Both read "nothing yet", then both insert. SQLite makes the second wait for the first's lock;
    MongoDB aborts the second with a write conflict and run_in_transaction runs it again."""
    barrier = threading.Barrier(2)

    def claim():
        tries = 0

        def write():
            nonlocal tries
            tries += 1
            taken = SessionCacheEpoch.objects.filter(name="race").exists()
            if tries == 1:
                try:
                    barrier.wait(timeout=1)
                except threading.BrokenBarrierError:
                    pass  # SQLite: the other transaction is waiting for this one's write lock
            if taken:
                return "taken"
            SessionCacheEpoch.objects.create(name="race")
            return "created"

        return run_in_transaction(write)

    outcomes = run_together(claim, claim)
    assert sorted(map(str, outcomes)) == ["created", "taken"]
    assert SessionCacheEpoch.objects.filter(name="race").count() == 1


def test_the_database_is_reachable():
    assert is_reachable()


@pytest.mark.parametrize("key", ["999999", "0123456789abcdef01234567"])
def test_a_key_that_names_nothing_is_404_whatever_its_shape(admin_client, key):
    # Integers on SQLite, ObjectIds on MongoDB: the other shape must be a 404 too, never a 500.
    assert admin_client.get(f"/faces/samples/{key}/image/").status_code == 404
    assert admin_client.get(f"/faces/people/{key}/enroll/").status_code == 404


def arm_commit_failure():
    """Make the next commitTransaction fail with a write conflict (a failpoint of the test server)."""
    connection.ensure_connection()
    try:
        connection.connection.admin.command(
            "configureFailPoint",
            "failCommand",
            mode={"times": 1},
            data={"failCommands": ["commitTransaction"], "errorCode": 112, "errorLabels": [TRANSIENT]},
        )
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"this MongoDB has no test commands (secantusd-py --enable-test-commands): {error}")


@pytest.mark.skipif(connection.vendor != "mongodb", reason="a commit that fails at the server: MongoDB only")
def test_after_a_failed_commit_the_next_transaction_is_real_again():
    arm_commit_failure()
    with pytest.raises(DatabaseError, match="did not commit"), atomic():
        User.objects.create(username="not-committed")
    assert not User.objects.filter(username="not-committed").exists()
    with pytest.raises(RuntimeError), atomic():
        User.objects.create(username="rolled-back")
        raise RuntimeError
    assert not User.objects.filter(username="rolled-back").exists()


@pytest.mark.skipif(connection.vendor != "mongodb", reason="a commit that fails at the server: MongoDB only")
def test_a_commit_that_failed_for_a_conflict_is_run_again():
    arm_commit_failure()
    run_in_transaction(lambda: User.objects.create(username="second-time"))
    assert User.objects.filter(username="second-time").count() == 1


@pytest.mark.skipif(connection.vendor != "mongodb", reason="a commit that fails at the server: MongoDB only")
def test_run_in_transaction_inside_djangos_own_atomic_is_still_run_again():
    arm_commit_failure()
    with transaction.atomic():
        run_in_transaction(lambda: User.objects.create(username="in-the-admin"))
    assert User.objects.filter(username="in-the-admin").count() == 1
