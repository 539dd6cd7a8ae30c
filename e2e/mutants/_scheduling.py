"""Under pytest-xdist, every test of one fail-fast mutant runs on the same worker; the tests of a
mutant that runs in full (the control, the equivalents, the regression client) spread over all.

Why not `--dist loadgroup` with an `xdist_group` mark per mutant: pytest-xdist 3.8 applies a group
by assigning `item._nodeid`, which pytest 9.2 no longer reads (a node's id is `item._id`), so the
marks are silently ignored and the tests of one mutant spread over both workers (measured: the
control's three tests ran on gw0 and gw1). A scheduler of our own, through pytest-xdist's
`pytest_xdist_make_scheduler` hook, is the supported way: pytest-xdist's own `loadscope` scheduling,
with the mutant parameter of the node id as the scope. One worker per mutant means the servers are
built once per mutant, not once per worker, and no worker starts a test of a mutant the other one
has just killed (fail-fast is then in-process, see `plugin.py`).

A mutant that runs in full has no kill to share, and kept on one worker it can be the session's
tail: the regression client fails ~30 scenarios on a 2 s `expect` each (70 test-seconds), as long
as a whole worker's share of the catalogue under `-n 6`. Its tests (and the control's, the
equivalents') are scopes of one test each, which `loadscope` (it hands out the scopes with the most
tests first) sends last: small units that even out the workers' ends. A worker takes them in runs
of consecutive tests of one mutant, so it rebuilds the servers only when the mutant changes.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling


class MutantScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped to mypy here (ignore_missing_imports)
    """`loadscope` by mutant: the scope of `path::test_x[wire_drop]` (or `test_x[redis-wire_drop]`)
    is `wire_drop`; a test without a mutant parameter is a scope of its own."""

    def __init__(
        self,
        config: pytest.Config,
        log: Producer | None,
        mutant_ids: Iterable[str],
        spread_ids: Iterable[str] = (),
    ) -> None:
        super().__init__(config, log)
        # Longest first: with `-` as the separator of parametrize ids, `wire_drop` cannot match inside
        # `wire_drop_progress`, but the longest match is the honest one if a name holds a `-`.
        self.mutant_ids = sorted(set(mutant_ids), key=len, reverse=True)
        self.spread_ids = frozenset(spread_ids)

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid, self.mutant_ids, self.spread_ids)


def scope_of(nodeid: str, mutant_ids: Iterable[str], spread_ids: Iterable[str] = ()) -> str:
    """The mutant id among the node id's parameters, else (no mutant, or one in `spread_ids`, whose
    tests may run on any worker) the node id itself."""
    _, bracket, params = nodeid.partition("[")
    params = params.removesuffix("]") if bracket else ""
    padded = f"-{params}-"  # each parameter id between dashes, the first and last ones too
    mutant = next((mutant for mutant in mutant_ids if f"-{mutant}-" in padded), None)
    return nodeid if mutant is None or mutant in spread_ids else f"mutant:{mutant}"
