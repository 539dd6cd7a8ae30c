"""The drafts API: the FastAPI + Redis + SSE backend the gate holds to its protocol."""

from drafts_api.app import create_app
from drafts_api.generation import DeterministicGenerator, DraftContent, DraftGenerator, GenerationFailed
from drafts_api.settings import Settings

__all__ = ["DeterministicGenerator", "DraftContent", "DraftGenerator", "GenerationFailed", "Settings", "create_app"]
