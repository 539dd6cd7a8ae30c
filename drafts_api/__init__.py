"""The drafts API: the FastAPI + Redis + SSE backend the gate holds to its protocol.

The seams for variants of its logic (see `drafts_api.app`): `DraftsApi` (route handlers),
`Generation` (the job's steps), `TaskEvents` (the stream's frames), `TaskStore` (task and draft records).
"""

from drafts_api.app import create_app
from drafts_api.generation import DeterministicGenerator, DraftContent, DraftGenerator, GenerationFailed
from drafts_api.handlers import DraftsApi
from drafts_api.runner import Generation
from drafts_api.settings import InvalidSettings, Settings, load_settings
from drafts_api.stream import TaskEvents
from drafts_api.tasks import TaskStore

__all__ = [
    "DeterministicGenerator",
    "DraftContent",
    "DraftGenerator",
    "DraftsApi",
    "Generation",
    "GenerationFailed",
    "InvalidSettings",
    "Settings",
    "TaskEvents",
    "TaskStore",
    "create_app",
    "load_settings",
]
