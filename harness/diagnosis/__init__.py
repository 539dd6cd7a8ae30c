"""One line that names the cause of a failed SSE test, from the evidence of both sides of the wire."""

from harness.diagnosis._base import Diagnosis, Rule
from harness.diagnosis._report import FILES, summary, write_report
from harness.diagnosis._rules import LAST_RESORT, RULES, diagnose

__all__ = [
    "Diagnosis",
    "FILES",
    "LAST_RESORT",
    "RULES",
    "Rule",
    "diagnose",
    "summary",
    "write_report",
]
