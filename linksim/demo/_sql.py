"""SQL snippets for seeded pseudo-randomness and literals, shared by the demo generators.

Every random number is a pure function of a row key and a *stream*: ``hash(key * 256 + stream +
salt)``, where the salt comes from the seed. The same seed therefore gives the same rows in any
order and with any parallelism, a different seed gives different rows, and no state lives in Python.
Independent columns use different streams: DuckDB's ``hash(i, 1)`` and ``hash(i, 2)`` are strongly
correlated, ``hash(i * 256 + 1)`` and ``hash(i * 256 + 2)`` are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum, auto

__all__ = ["Rng", "Stream", "ip_text", "lit", "values"]

_TWO_53 = "9007199254740992.0"


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


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


class Rng:
    """SQL expressions for uniform, normal and derived draws, keyed by a row key and a stream.

    Keys must be non-negative integers below 2**38 so that ``key * 256 + salt`` fits a BIGINT.

    >>> import duckdb
    >>> rng = Rng(7)
    >>> u = rng.u("range", Stream.CLICK)
    >>> duckdb.sql(f"SELECT min({u}) > 0, max({u}) < 1 FROM range(1000)").fetchall()
    [(True, True)]
    """

    def __init__(self, seed: int) -> None:
        # 44 bits of salt, shifted past the stream byte: keys up to 2**38 stay inside BIGINT.
        self.salt = (_splitmix64(seed) >> 20) << 8

    def u(self, key: str, stream: int) -> str:
        """A uniform draw in the open interval (0, 1)."""
        return (
            f"(((hash(({key})::BIGINT * 256 + {int(stream) + self.salt}) >> 11)::DOUBLE + 0.5)"
            f" / {_TWO_53})"
        )

    def chance(self, key: str, stream: int, p: str | float) -> str:
        """True with probability ``p``."""
        return f"({self.u(key, stream)} < {p})"

    def pick(self, key: str, stream: int, n: str | int) -> str:
        """A uniform integer in ``0 .. n-1``."""
        return f"floor({self.u(key, stream)} * ({n}))::BIGINT"

    def normal(self, key: str, stream: int) -> str:
        """A standard normal draw (Box-Muller on streams ``stream`` and ``stream + 128``)."""
        return (
            f"(sqrt(-2 * ln({self.u(key, stream)}))"
            f" * cos(2 * pi() * {self.u(key, int(stream) + 128)}))"
        )

    def lognormal(self, key: str, stream: int, median: float, sigma: float) -> str:
        """A lognormal draw with the given median and log-scale sigma."""
        return f"({float(median)!r} * exp({float(sigma)!r} * {self.normal(key, stream)}))"

    def geometric(self, key: str, stream: int, q: float, cap: int) -> str:
        """How many extra successes, each with probability ``q`` (mean ``q / (1 - q)``), capped."""
        return f"least({int(cap)}, floor(ln({self.u(key, stream)}) / ln({float(q)!r})))::INTEGER"


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
