"""The drafts API's own tests: a real uvicorn on loopback, streams read as they arrive, no browser.

A package so that its helper modules and test modules cannot collide by basename with other test
folders' (pytest's default import mode puts each rootless folder on `sys.path`).
"""
