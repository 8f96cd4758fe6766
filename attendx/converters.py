"""A URL converter for primary keys on any of our databases: integers or MongoDB ObjectIds."""


class ObjectKeyConverter:
    regex = "[0-9]{1,18}|[0-9a-f]{24}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return str(value)
