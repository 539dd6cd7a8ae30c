"""Redis URLs as the project shows them: with any password replaced, so logs and reports can be shared.

Standard library only: the plugin's report header imports it in every pytest session.
"""

from __future__ import annotations

from urllib.parse import urlsplit

REDACTED = "***"


def redact_url(url: str) -> str:
    """`redis://user:secret@host:6379/0` -> `redis://user:***@host:6379/0`; also `?password=...`.

    Only the secret is replaced; the rest stays as written (what the person typed is what they
    read). A URL without a password comes back unchanged; one that cannot be parsed is hidden whole
    rather than printed, since it may still hold a secret.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return f"<unparsable URL, {len(url)} characters, hidden>"
    redacted = url
    if password is not None:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        redacted = redacted.replace(f"//{parts.netloc}", f"//{user}:{REDACTED}@{hostport}", 1)
    if parts.query:
        head, _, query = redacted.partition("?")
        query, hash_mark, fragment = query.partition("#")
        pieces = [
            f"{piece.split('=', 1)[0]}={REDACTED}" if piece.split("=", 1)[0].lower() == "password" else piece
            for piece in query.split("&")
        ]
        redacted = f"{head}?{'&'.join(pieces)}{hash_mark}{fragment}"
    return redacted
