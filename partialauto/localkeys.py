"""First-run keys: generated once into a git-ignored file, reused afterwards.

A production deployment sets ``DJANGO_SECRET_KEY`` and ``CS_FIELD_ENCRYPTION_KEY`` in the
environment and never touches this file. A first run on a laptop needs no configuration, so the
keys it lacks are generated here, written with mode 0600 and announced once on stderr.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from pathlib import Path

GENERATORS = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    # A Fernet key: 32 random bytes, url-safe base64.
    "CS_FIELD_ENCRYPTION_KEY": lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
}


def local_key(path: Path, name: str) -> str:
    """Return key ``name`` from ``path``, generating and storing it on first use."""
    data: dict[str, str] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"{path} is not readable JSON ({exc}); set {name} in the environment") from exc
    if name not in data:
        data[name] = GENERATORS[name]()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
        print(f"partialauto: {name} not set; generated one into {path} (git-ignored).", file=sys.stderr)
    return data[name]
