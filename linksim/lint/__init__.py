"""`linksim lint`: problems and conflicts of link actions, with the people they touched.

>>> from linksim.lint import CODES
>>> CODES["add-and-remove"][0]
'warning'
"""

from linksim.lint.findings import CODES, SEVERITIES, Finding, LintResult
from linksim.lint.linter import lint

__all__ = ["CODES", "SEVERITIES", "Finding", "LintResult", "lint"]
