"""The SSE progress gate's machinery, as a pytest plugin (`harness.plugin`) and a small public API.

Fixtures are the main interface (`pytest --fixtures` lists them). For code that drives the pieces
directly (the benchmark, `make serve`, another repository's own fixtures):
"""

from harness.diagnosis import Diagnosis, diagnose
from harness.evidence import Evidence
from harness.pages import EditorPage, NewDraftPage
from harness.proxy import FaultProxy
from harness.recording import EvidenceCollector
from harness.scripting import Crash, Fail, Hold, Progress, ScriptedGenerator, ScriptedRun, Succeed
from harness.servers import LiveBackend, LiveServer, LiveServerError
from harness.sse import SSEDecoder
from harness.waiting import wait_until

__all__ = [
    "Crash",
    "Diagnosis",
    "EditorPage",
    "Evidence",
    "EvidenceCollector",
    "Fail",
    "FaultProxy",
    "Hold",
    "LiveBackend",
    "LiveServer",
    "LiveServerError",
    "NewDraftPage",
    "Progress",
    "SSEDecoder",
    "ScriptedGenerator",
    "ScriptedRun",
    "Succeed",
    "diagnose",
    "wait_until",
]
