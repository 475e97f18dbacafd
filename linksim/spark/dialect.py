"""The engine's DuckDB SQL as Spark SQL: sqlglot transpiles, a few rewrites do what it does not.

The pipeline is written once, in DuckDB's dialect (`linksim.engine`). For Spark each statement
is parsed by sqlglot and written back in Spark's dialect, after these rewrites:

- DuckDB macros are expanded where they are called: `ls_workday` from its DuckDB body,
  `ls_local`, `ls_utc` and `ls_ip_number` from the Spark bodies below (time zones and address
  parsing are the two things each engine spells its own way);
- functions Spark lacks or names differently: `to_seconds`, `to_minutes`, `epoch_us`, `epoch` of
  an interval, `isodow` (which sqlglot maps wrongly), `make_timestamp` of epoch microseconds,
  `to_json` of a text, `json_object`,
  `isfinite`, `regexp_full_match`, `any_value` (skipping NULLs), ordered `list()` (which sqlglot
  turns into an unordered `collect_list`);
- types: `HUGEINT` becomes `DECIMAL(38, 0)` (the click clock fits), `JSON` becomes text;
- `AS MATERIALIZED` hints on CTEs are dropped.

>>> to_spark("SELECT isodow(d) FROM t")
'SELECT ((DAYOFWEEK(d) + 5) % 7) + 1 FROM t'
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlglot
from sqlglot import exp

from linksim.engine.clicks import IPV4_OCTET
from linksim.engine.create import MACROS

__all__ = ["to_spark", "to_spark_tree"]

# Spark bodies of the macros whose DuckDB bodies do not transpile. Timestamps are TIMESTAMP_NTZ
# (wall-clock, no zone) as in DuckDB; the session time zone is UTC.
SPARK_MACROS: dict[str, tuple[tuple[str, ...], str]] = {
    "ls_local": (
        ("ts", "tz"),
        "CAST(from_utc_timestamp(CAST(ts AS TIMESTAMP), tz) AS TIMESTAMP_NTZ)",
    ),
    "ls_utc": (
        ("local_ts", "tz"),
        "CAST(to_utc_timestamp(CAST(local_ts AS TIMESTAMP), tz) AS TIMESTAMP_NTZ)",
    ),
}


def _v4(text: str) -> str:
    """Spark SQL: an IPv4 address as a number, NULL when it is not one, as in DuckDB."""
    return (
        f"CASE WHEN {text} RLIKE '^({IPV4_OCTET}[.]){{3}}{IPV4_OCTET}$' THEN "
        f"aggregate(split({text}, '[.]'), CAST(0 AS BIGINT), "
        "(a, x) -> a * 256 + CAST(x AS BIGINT)) END"
    )


def _let(name: str, value: str, body: str) -> str:
    """Spark SQL: ``body`` with ``name`` bound to ``value`` (evaluated once), by a lambda."""
    return f"element_at(transform(array({value}), {name} -> {body}), 1)"


NO_GROUPS = "CAST(array() AS ARRAY<STRING>)"

# The 32 hex digits of linksim.engine.clicks.IP_MACROS, step for step, with Spark's arrays.
_IP_V6 = _let(
    "h",
    "CASE WHEN s LIKE '%.%' THEN regexp_replace(s, '[^:]*$', '') || "
    + _let(
        "v4",
        _v4("regexp_extract(s, '[^:]*$', 0)"),
        "lower(hex(v4 DIV 65536)) || ':' || lower(hex(v4 % 65536))",
    )
    + " ELSE s END",
    _let(
        "halves",
        "split(h, '::')",
        _let(
            "g",
            "CASE size(halves) WHEN 1 THEN split(h, ':') WHEN 2 THEN "
            + _let(
                "l",
                f"CASE WHEN halves[0] = '' THEN {NO_GROUPS} ELSE split(halves[0], ':') END",
                _let(
                    "r",
                    f"CASE WHEN halves[1] = '' THEN {NO_GROUPS} ELSE split(halves[1], ':') END",
                    "CASE WHEN size(l) + size(r) < 8 THEN "
                    "concat(l, array_repeat('0', 8 - size(l) - size(r)), r) END",
                ),
            )
            + " END",
            "CASE WHEN size(g) = 8 AND forall(g, x -> x RLIKE '^[0-9a-f]{1,4}$') "
            "THEN array_join(transform(g, x -> lpad(x, 4, '0')), '') END",
        ),
    ),
)
SPARK_MACROS["ls_ip_number"] = (
    ("ip",),
    "CASE WHEN trim(ip) LIKE '%:%' THEN "
    + _let("s", "lower(trim(ip))", _IP_V6)
    + " ELSE '00000000000000000000ffff' || lpad(lower(hex("
    + _v4("trim(ip)")
    + ")), 8, '0') END",
)

_MACRO = re.compile(
    r"CREATE OR REPLACE TEMP MACRO (\w+)\(([^)]*)\) AS (.*)", re.DOTALL | re.IGNORECASE
)


def _parse_macros() -> dict[str, tuple[tuple[str, ...], exp.Expr]]:
    macros: dict[str, tuple[tuple[str, ...], exp.Expr]] = {}
    for text in MACROS:
        match = _MACRO.search(text)
        assert match, text
        name, params, body = match[1], match[2], match[3]
        if name in SPARK_MACROS:
            continue
        names = tuple(p.strip() for p in params.split(","))
        macros[name] = (names, sqlglot.parse_one(body, read="duckdb"))
    for name, (names, body) in SPARK_MACROS.items():
        macros[name] = (names, _SparkBody(this=sqlglot.parse_one(body, read="spark")))
    return macros


class _SparkBody(exp.Expression):
    """Marks a macro body already in Spark's dialect: expanded, but not rewritten again."""


def _expand(node: exp.Anonymous, names: tuple[str, ...], body: exp.Expr) -> exp.Expr:
    args = dict(zip(names, node.expressions, strict=True))
    inner = body.this if isinstance(body, _SparkBody) else body

    def bind(n: exp.Expr) -> exp.Expr:
        if isinstance(n, exp.Column) and not n.table and n.name in args:
            return exp.paren(args[n.name].copy(), copy=False)
        return n

    return exp.paren(inner.copy().transform(bind), copy=False)


def _micros(value: exp.Expr) -> exp.Expr:
    return exp.func("unix_micros", exp.cast(value, "TIMESTAMP"))


def _ordered_list(node: exp.ArrayAgg) -> exp.Expr:
    """``list(x ORDER BY k1, k2)`` → the values of a sorted list of (k1, k2, x) structs."""
    order = node.this
    keys = [o.this for o in order.expressions]
    if any(o.args.get("desc") for o in order.expressions):
        raise ValueError("linksim.spark: list(… ORDER BY … DESC) is not supported")
    fields = [exp.alias_(k.copy(), f"k{i}") for i, k in enumerate(keys)]
    fields.append(exp.alias_(order.this.copy(), "v"))
    collected = exp.func("collect_list", exp.Struct(expressions=fields))
    return sqlglot.parse_one(
        f"transform(array_sort({collected.sql('spark')}), s -> s.v)", read="spark"
    )


def _rewriter() -> Callable[[exp.Expr], exp.Expr]:
    macros = _parse_macros()

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)
        elif isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name in macros:
                names, body = macros[name]
                # the arguments first: they may call macros themselves
                node.set("expressions", [a.transform(rewrite) for a in node.expressions])
                expanded = _expand(node, names, body)
                return expanded if isinstance(body, _SparkBody) else expanded.transform(rewrite)
            if name == "to_seconds":
                return exp.func("make_dt_interval", 0, 0, 0, node.expressions[0])
            if name == "to_minutes":
                return exp.func("make_dt_interval", 0, 0, node.expressions[0], 0)
            if name == "list_position":
                return exp.func("array_position", *node.expressions)
            if name == "epoch_us":
                return _micros(node.expressions[0])
            if name == "isfinite":
                value = node.expressions[0].transform(rewrite)
                finite = exp.and_(
                    exp.not_(exp.func("isnan", value.copy())),
                    exp.LT(
                        this=exp.func("abs", value.copy()),
                        expression=exp.cast(exp.Literal.string("Infinity"), "DOUBLE"),
                    ),
                )
                return exp.Case(ifs=[exp.If(this=value.is_(exp.null()), true=exp.null())]).else_(
                    finite
                )
            if name == "to_json" and len(node.expressions) == 1:
                # of a text: Spark's wants a struct, so wrap it and cut the wrapper off
                # (NULL stays NULL, as in DuckDB; Spark would leave the field out)
                value = node.expressions[0].sql("spark")
                wrapped = f"to_json(named_struct('v', {value}))"
                return sqlglot.parse_one(
                    f"CASE WHEN {value} IS NULL THEN NULL "
                    f"ELSE substring({wrapped}, 6, length({wrapped}) - 6) END",
                    read="spark",
                )
        elif isinstance(node, exp.UnixToTime) and node.args.get("scale") is not None:
            # make_timestamp(epoch microseconds): wall-clock time, as every timestamp here
            scale = int(node.args["scale"].name)
            assert scale == 6, "linksim.spark: make_timestamp takes microseconds"
            micros = exp.func("timestamp_micros", node.this.transform(rewrite))
            return exp.cast(micros, "TIMESTAMP_NTZ")
        elif isinstance(node, exp.RegexpFullMatch):
            # Spark's RLIKE finds the pattern anywhere: anchor it
            pattern = exp.func(
                "concat",
                exp.Literal.string("^(?:"),
                node.expression.transform(rewrite),
                exp.Literal.string(")$"),
            )
            return exp.RegexpLike(this=node.this.transform(rewrite), expression=pattern)
        elif isinstance(node, exp.IgnoreNulls | exp.AnyValue):
            value = node.this if isinstance(node, exp.IgnoreNulls) else node
            if isinstance(value, exp.AnyValue):
                # DuckDB's any_value skips NULLs; Spark's does when told
                return exp.Anonymous(
                    this="any_value", expressions=[value.this.transform(rewrite), exp.true()]
                )
        elif isinstance(node, exp.JSONObject):
            pairs = []
            for pair in node.expressions:
                pairs += [pair.this.transform(rewrite), pair.expression.transform(rewrite)]
            keep_nulls = exp.Anonymous(  # as DuckDB: "k": null
                this="map",
                expressions=[exp.Literal.string("ignoreNullFields"), exp.Literal.string("false")],
            )
            struct = exp.Anonymous(this="named_struct", expressions=pairs)
            return exp.Anonymous(this="to_json", expressions=[struct, keep_nulls])
        elif isinstance(node, exp.TimeToUnix) and isinstance(node.this, exp.Sub):
            # epoch() of an interval: its seconds
            span = exp.Sub(this=_micros(node.this.this), expression=_micros(node.this.expression))
            return exp.Div(this=exp.paren(span), expression=exp.Literal.number("1000000.0"))
        elif isinstance(node, exp.DayOfWeekIso):
            return sqlglot.parse_one(f"((DAYOFWEEK({node.this.sql('spark')}) + 5) % 7) + 1")
        elif isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
            return _ordered_list(node)
        elif isinstance(node, exp.DataType):
            if node.this in (exp.DataType.Type.INT128, exp.DataType.Type.BIGDECIMAL):
                return exp.DataType.build("DECIMAL(38, 0)")
            if node.this == exp.DataType.Type.JSON:
                return exp.DataType.build("STRING")
        return node

    return rewrite


_REWRITE = _rewriter()


def to_spark(sql: str) -> str:
    """One DuckDB statement of the engine as Spark SQL."""
    return to_spark_tree(sqlglot.parse_one(sql, read="duckdb"))


def to_spark_tree(tree: exp.Expr) -> str:
    """A parsed DuckDB statement as Spark SQL."""
    return tree.transform(_REWRITE).sql(dialect="spark")
