"""A backend of the production app's shape, gated by the same e2e scenarios as drafts_api.

`app.py` is the app as a team would have it (it knows nothing of the gate); `contract.py` is what the
gate knows of it; `gate.py` is the factory the gate runs it with (dependency overrides); `frontend/`
is its client module, served over the stub page (`--frontend-dir` overlay).
"""
