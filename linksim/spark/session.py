"""A Spark session for linksim, and a warehouse directory's tables in its catalog."""

from __future__ import annotations

import os
import re
import warnings
from typing import TYPE_CHECKING

from linksim.errors import UsageError
from linksim.store.schema import TABLES, Table
from linksim.warehouse import table_folder

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "INSTALL",
    "SETTINGS",
    "register_warehouse",
    "require_pyspark",
    "spark_schema",
    "spark_session",
    "view_name",
]

INSTALL = (
    "the Spark engine needs PySpark and a Java 17+ runtime: pip install 'linksim[spark]' "
    "(and `java -version` must work)"
)


# SQL settings the engine relies on: UTC wall-clock timestamps as in DuckDB, and DuckDB's NULL on
# a failed TRY_CAST and its integer arithmetic rather than ANSI errors
SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    # Inferring filters from every constraint of the follow-up schedule's many CTEs (inlined
    # where each is read) took the optimizer minutes and the driver's heap
    "spark.sql.constraintPropagation.enabled": "false",
}


def require_pyspark() -> None:
    """Refuse, saying how to install it, when PySpark is missing."""
    try:
        import pyspark.sql  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL) from None


def spark_session(master: str | None = None) -> SparkSession:
    """A session on ``master`` (``local[*]``, ``spark://host:7077``, ``yarn``…). One that cannot
    start is one clear error."""
    require_pyspark()
    from pyspark.sql import SparkSession

    master = master or os.environ.get("LINKSIM_SPARK_MASTER") or "local[*]"
    if master.startswith("sc://"):
        return _connect_session(master)
    builder = SparkSession.builder.appName("linksim").master(master)
    for key, value in SETTINGS.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    # An apply runs a few hundred queries per batch: keeping each one's plan for the UI (1,000
    # by default) costs driver memory that a long backfill needs more
    for kept in ("sql.ui.retainedExecutions", "ui.retainedJobs", "ui.retainedStages"):
        builder = builder.config(f"spark.{kept}", "20")
    if master.startswith("local"):
        builder = builder.config("spark.ui.enabled", "false").config(
            "spark.sql.shuffle.partitions", "4"
        )
    try:
        with warnings.catch_warnings():  # PySpark 4.3 on pandas 3 (see linksim.spark.connection)
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            spark = builder.getOrCreate()
    except Exception as exc:  # Py4J and PySpark raise many kinds; the first line says which
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"Spark did not start on --master {master}: {first}. Check the master URL "
            "(local[*], spark://HOST:PORT, yarn) and that `java -version` works"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _connect_session(url: str) -> SparkSession:
    """A Spark Connect client of the server at ``url`` (``sc://host:15002``), set as the engine
    needs (SQL settings are per session, so a shared server keeps its own)."""
    try:
        with warnings.catch_warnings():  # PySpark 4.3 on pandas 3 (see linksim.spark.connection)
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            import pyspark.sql.connect.session  # noqa: F401  (needs grpcio and friends)
    except ImportError as exc:
        raise UsageError(
            f"--master {url}: Spark Connect needs PySpark's connect extra: pip install "
            f"'pyspark[connect]' ({exc.msg})"
        ) from None
    from pyspark.sql import SparkSession

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            spark = SparkSession.builder.remote(url).getOrCreate()
            for key, value in SETTINGS.items():
                spark.conf.set(key, value)
    except Exception as exc:  # gRPC and PySpark raise many kinds; gRPC's details say which
        text = str(exc).strip()
        details = re.search(r'details = "([^"]*)"', text)
        first = details.group(1) if details else (text.splitlines() or [type(exc).__name__])[0]
        raise UsageError(
            f"Spark Connect at {url} did not answer: {first}. Check that a Spark Connect server "
            "runs there (sbin/start-connect-server.sh), the port, and the token "
            "(sc://HOST:15002/;token=…) if the server asks for one"
        ) from None
    return spark


def view_name(table: str) -> str:
    """The temporary view a warehouse table is read through: ``crm.person`` → ``crm__person``.

    >>> view_name("crm.person")
    'crm__person'
    """
    return table.replace(".", "__")


def register_warehouse(spark: SparkSession, directory: str | os.PathLike[str]) -> None:
    """Read the warehouse's tables as temporary views of this session (`view_name`): nothing
    is written to the session's catalog, and no path is pasted into SQL."""
    for key, value in SETTINGS.items():  # a session the caller made may lack them
        spark.conf.set(key, value)
    for t in TABLES:
        folder = table_folder(directory, t.name).resolve()
        if not folder.is_dir():
            raise UsageError(f"{folder}: missing; `linksim export` writes a whole warehouse")
        # a file: URI, not a bare path that a cluster would resolve against its HDFS. With the
        # schema given, Spark reads no file's footer to infer it: a job per table, 3-10 s of
        # every run on a warehouse of 40 tables
        reader = spark.read.schema(spark_schema(t))
        reader.parquet(folder.as_uri()).createOrReplaceTempView(view_name(t.name))


# The Spark type of each column type of linksim.store.schema, as the warehouse's Parquet files
# hold it (DuckDB writes TIMESTAMP without a time zone: Spark's TIMESTAMP_NTZ)
SPARK_TYPES = {
    "BIGINT": "BIGINT",
    "BOOLEAN": "BOOLEAN",
    "DOUBLE": "DOUBLE",
    "INTEGER": "INT",
    "JSON": "STRING",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "VARCHAR": "STRING",
    "VARCHAR[]": "ARRAY<STRING>",
}


def spark_schema(t: Table) -> str:
    """Table ``t``'s columns as a Spark schema (DDL).

    >>> from linksim.store.schema import table
    >>> spark_schema(table("mail.link"))
    '`link_id` BIGINT, `url` STRING, `name` STRING'
    >>> sorted({c.type for t in TABLES for c in t.columns} - SPARK_TYPES.keys())  # all mapped
    []
    """
    return ", ".join(f"`{c.name}` {SPARK_TYPES[c.type]}" for c in t.columns)
