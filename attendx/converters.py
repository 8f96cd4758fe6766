"""A URL converter for primary keys on any of our databases: integers or MongoDB ObjectIds."""

from attendx.keys import ANY_KEY, is_key


class ObjectKeyConverter:
    regex = ANY_KEY

    def to_python(self, value):
        # A key of the other database's shape names nothing here: no match (404), not a 500 from the ORM.
        if not is_key(value):
            raise ValueError(value)
        return value

    def to_url(self, value):
        return str(value)
