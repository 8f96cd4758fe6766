"""The shape of a primary key on the database we run on: an integer on SQLite, an ObjectId on MongoDB.

The URL converter (attendx.converters) and the form fields (attendx.forms) both ask here, so a key
the ORM would choke on never reaches a query.
"""

import re

from django.db import DEFAULT_DB_ALIAS, connections

INTEGER_KEY = "[0-9]{1,18}"  # at most 18 digits: always below 2**63, SQLite's largest integer
OBJECT_ID = "[0-9a-f]{24}"
ANY_KEY = f"{INTEGER_KEY}|{OBJECT_ID}"

_INTEGER_KEY = re.compile(INTEGER_KEY)
_OBJECT_ID = re.compile(OBJECT_ID)


def uses_object_ids(using: str = DEFAULT_DB_ALIAS) -> bool:
    return connections[using].vendor == "mongodb"


def is_key(value: str, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether ``value`` has the shape of a primary key on database ``using``."""
    pattern = _OBJECT_ID if uses_object_ids(using) else _INTEGER_KEY
    return isinstance(value, str) and pattern.fullmatch(value) is not None
