"""Demo data: a seeded synthetic company (`generate`) and the Hillstrom campaign
(`stage_hillstrom`), both staged in DuckDB for the validating loader."""

from linksim.demo.generate import MALFORMED_CLICKS, STAGE_SCHEMA, generate
from linksim.demo.hillstrom import HILLSTROM_SCHEMA, stage_hillstrom

__all__ = ["HILLSTROM_SCHEMA", "MALFORMED_CLICKS", "STAGE_SCHEMA", "generate", "stage_hillstrom"]
