"""The engine on Apache Spark: the same pipeline steps, transpiled from DuckDB's SQL (SPEC §7)."""
