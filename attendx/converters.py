"""A URL converter for primary keys on any of our databases: integers or MongoDB ObjectIds."""

from django.db import DEFAULT_DB_ALIAS, connections


class ObjectKeyConverter:
    regex = "[0-9]{1,18}|[0-9a-f]{24}"

    def to_python(self, value):
        # A key of the other database's shape names nothing here: no match (404), not a 500 from the ORM.
        if (len(value) == 24) != (connections[DEFAULT_DB_ALIAS].vendor == "mongodb"):
            raise ValueError(value)
        return value

    def to_url(self, value):
        return str(value)
