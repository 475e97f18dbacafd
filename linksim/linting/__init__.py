"""`linksim lint`: problems and conflicts of link actions, with the people they touched.

>>> from linksim.linting import CODES
>>> CODES["add-and-remove"][0]
'warning'
"""

from linksim.linting.findings import CODES, SEVERITIES, Finding, LintResult
from linksim.linting.linter import lint

__all__ = ["CODES", "SEVERITIES", "Finding", "LintResult", "lint"]
