"""Seeded pseudo-randomness in SQL: uniform, normal and derived draws keyed by a row key.

Every random number is a pure function of a row key and a *stream*: ``hash(key * 256 + stream +
salt)``, where the salt comes from the seed. The same seed therefore gives the same rows in any
order and with any parallelism, a different seed gives different rows, and no state lives in Python.
Independent columns use different streams: DuckDB's ``hash(i, 1)`` and ``hash(i, 2)`` are strongly
correlated, ``hash(i * 256 + 1)`` and ``hash(i * 256 + 2)`` are not. Streams are below 128: a normal
draw also uses ``stream + 128``.
"""

from __future__ import annotations

__all__ = ["Rng"]

_TWO_53 = "9007199254740992.0"


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
    >>> u = rng.u("range", 3)
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
