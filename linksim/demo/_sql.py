"""SQL snippets shared by the demo generators: the random streams, literals, addresses.

Random draws come from `linksim._rng.Rng`, keyed by a row key and one of the `Stream` below.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum, auto

from linksim._rng import Rng

__all__ = ["Rng", "Stream", "ip_text", "lit", "values"]


class Stream(IntEnum):
    """One named source of randomness; a normal draw also uses ``stream + 128``."""

    CONTACT_REGION = auto()
    CONTACT_COUNTRY = auto()
    CONTACT_OWNER = auto()
    CONTACT_NO_OWNER = auto()
    CONTACT_SIZE = auto()
    CONTACT_SCANNED = auto()
    CONTACT_GATEWAY = auto()
    CONTACT_PREFIX = auto()
    CONTACT_CORE = auto()
    CONTACT_CATEGORY = auto()
    CONTACT_BUSINESS = auto()
    CONTACT_IP = auto()
    PERSON_REGION = auto()
    PERSON_FIRST = auto()
    PERSON_LAST = auto()
    PERSON_EMAIL = auto()
    PERSON_MAILBOX = auto()
    PERSON_OWNER = auto()
    PERSON_OWNER_PICK = auto()
    PERSON_PROPENSITY = auto()
    PERSON_ROLE = auto()
    PERSON_STAGE = auto()
    PERSON_UNSUB = auto()
    PERSON_UNSUB_AT = auto()
    PERSON_UA = auto()
    PERSON_IP = auto()
    FIELD_HAS = auto()
    FIELD_VALUE = auto()
    FIELD_VALUE_2 = auto()
    FIELD_RECENT = auto()
    FIELD_SET_AT = auto()
    MEMBER_HAS = auto()
    MEMBER_RECENT = auto()
    MEMBER_SINCE = auto()
    APPT_COUNT = auto()
    APPT_SLOT = auto()
    APPT_CONTACT = auto()
    APPT_PERSON = auto()
    APPT_KIND = auto()
    APPT_TYPE = auto()
    APPT_TEXT = auto()
    APPT_DURATION = auto()
    RECIPIENT = auto()
    DELIVERED = auto()
    DELIVERY_DELAY = auto()
    READ = auto()
    SESSION = auto()
    CLICK = auto()
    CLICK_REPEAT = auto()
    CLICK_OFFSET = auto()
    CLICK_REPEAT_DELAY = auto()
    CLICK_UA = auto()
    CLICK_UA_PICK = auto()
    CLICK_IP = auto()
    CLICK_IP_PICK = auto()
    SCAN = auto()
    SCAN_JITTER = auto()
    SCAN_IP = auto()
    OPEN = auto()
    OPEN_COUNT = auto()
    OPEN_DELAY = auto()
    OPEN_UA = auto()
    MALFORMED = auto()
    HILLSTROM_DELIVERY = auto()
    HILLSTROM_VISIT = auto()


assert max(Stream) < 128, "streams and their normal-draw partners must fit in 256"


def lit(value: object) -> str:
    """A SQL literal for a Python value (str, int, float, bool, None, or a list of those).

    >>> lit("O'Brien"), lit(None), lit([1, "a"])
    ("'O''Brien'", 'NULL', "[1, 'a']")
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    raise TypeError(f"no SQL literal for {value!r}")


def ip_text(expr: str) -> str:
    """SQL rendering a 32-bit address number as dotted text.

    >>> import duckdb
    >>> duckdb.sql(f"SELECT {ip_text('x')} FROM (SELECT 3232235777 AS x)").fetchall()
    [('192.168.1.1',)]
    """
    return (
        f"concat_ws('.', ({expr}) >> 24, (({expr}) >> 16) & 255, (({expr}) >> 8) & 255,"
        f" ({expr}) & 255)"
    )


def values(rows: Sequence[Sequence[object]], columns: Sequence[str], alias: str = "t") -> str:
    """A ``(VALUES …) AS alias(columns)`` table expression.

    >>> values([(1, "a"), (2, None)], ["id", "name"])
    "(VALUES (1, 'a'), (2, NULL)) AS t(id, name)"
    """
    body = ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)
    return f"(VALUES {body}) AS {alias}({', '.join(columns)})"
