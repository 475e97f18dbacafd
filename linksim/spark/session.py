"""A Spark session for linksim, and a warehouse directory's tables in its catalog."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from linksim.errors import UsageError
from linksim.store.connect import SCHEMAS
from linksim.store.schema import TABLES
from linksim.warehouse import table_folder

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["INSTALL", "register_warehouse", "spark_session"]

INSTALL = (
    "the Spark engine needs PySpark and a Java 17+ runtime: pip install 'linksim[spark]' "
    "(and `java -version` must work)"
)


def spark_session(master: str | None = None) -> SparkSession:
    """A session on ``master`` (``local[*]``, ``spark://host:7077``, ``yarn``…) or, for an
    ``sc://`` URL, a Spark Connect session. Timestamps are UTC wall-clock time, as in DuckDB."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(INSTALL) from None
    master = master or os.environ.get("LINKSIM_SPARK_MASTER") or "local[*]"
    builder = SparkSession.builder.appName("linksim")
    builder = builder.remote(master) if master.startswith("sc://") else builder.master(master)
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        # DuckDB's NULL on a failed TRY_CAST and its integer arithmetic, not ANSI errors
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
    )
    if master.startswith("local"):
        builder = builder.config("spark.ui.enabled", "false").config(
            "spark.sql.shuffle.partitions", "4"
        )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def register_warehouse(spark: SparkSession, directory: str | os.PathLike[str]) -> None:
    """Name the warehouse's tables in the session's catalog as the engine names them
    (``crm.person``…): one external Parquet table per folder."""
    for schema in SCHEMAS:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
    for t in TABLES:
        folder = table_folder(directory, t.name).resolve()
        if not folder.is_dir():
            raise UsageError(f"{folder}: missing; `linksim export` writes a whole warehouse")
        location = str(folder).replace("'", "\\'")
        spark.sql(f"DROP TABLE IF EXISTS {t.name}")
        spark.sql(f"CREATE TABLE {t.name} USING parquet LOCATION '{location}'")
