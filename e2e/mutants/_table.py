"""The mutant check's tables: one row per mutant, the kill rate per operator, the totals line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

# Survivors the catalogue knows of, with the reason no scenario kills them yet. They are shown in the
# table as "survived (known)" and do not fail `make test`; a new survivor does.
KNOWN_SURVIVORS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Row:
    """One mutant's result as the plugin wrote it."""

    name: str
    side: str
    operator: str
    verdict: str
    failed: tuple[str, ...]
    diagnosis: str
    named: bool
    errors: tuple[str, ...] = ()
    expected_rule: str = ""  # every scenario ran, and each failure had to be diagnosed by this rule

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        return cls(
            data["name"],
            data["side"],
            data["operator"],
            data["verdict"],
            tuple(data["failed"]),
            data["diagnosis"],
            bool(data["named"]),
            tuple(data["errors"]),
            str(data.get("expected_rule", "")),
        )

    @property
    def ok(self) -> bool:
        return self.verdict in ("killed", "passed") or (self.verdict == "SURVIVED" and self.name in KNOWN_SURVIVORS)


def _cells(rows: list[tuple[str, ...]], limits: tuple[int, ...]) -> str:
    widths = [min(max(len(row[i]) for row in rows), limit) for i, limit in enumerate(limits)]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell if len(cell) <= width else cell[: width - 1] + "…" for cell, width in zip(row, widths, strict=True)
        ]
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_table(rows: Sequence[Row]) -> str:
    table: list[tuple[str, ...]] = [
        ("mutant", "operator", "verdict", "failing test", "named", "diagnosis (first line)")
    ]
    for row in rows:
        test = row.failed[0].split("[")[0] if row.failed else "-"
        named = ("yes" if row.named else "fallback") if row.verdict == "killed" else "-"
        table.append((row.name, row.operator, row.verdict, test, named, row.diagnosis or "-"))
    return _cells(table, (34, 24, 9, 60, 8, 400))


def format_operators(rows: Sequence[Row]) -> str:
    by_operator: dict[str, list[Row]] = {}
    for row in rows:
        if row.side not in ("control", "equivalent"):
            by_operator.setdefault(row.operator, []).append(row)
    table: list[tuple[str, ...]] = [("operator", "mutants", "killed", "kill rate", "named")]
    for operator, group in sorted(by_operator.items()):
        killed = [r for r in group if r.verdict == "killed"]
        named = sum(1 for r in killed if r.named)
        table.append(
            (operator, str(len(group)), str(len(killed)), f"{len(killed) / len(group):.0%}", f"{named}/{len(killed)}")
        )
    return _cells(table, (30, 7, 6, 9, 7))


def format_totals(rows: Sequence[Row], seconds: float) -> str:
    mutants = [r for r in rows if r.side not in ("control", "equivalent")]
    killed = [r for r in mutants if r.verdict == "killed"]
    named = sum(1 for r in killed if r.named)
    control = next((r.verdict for r in rows if r.side == "control"), "not run")
    equivalents = [r for r in rows if r.side == "equivalent"]
    passed = sum(1 for r in equivalents if r.verdict == "passed")
    control += f"; equivalent controls {passed} of {len(equivalents)} passed"
    return (
        f"mutants: {len(killed)} of {len(mutants)} killed ({len(killed) / max(len(mutants), 1):.0%}); "
        f"{named} of {len(killed)} kills named specifically ({named / max(len(killed), 1):.0%}); "
        f"control {control}; {seconds:.0f} s"
    )
