"""Superset's configuration for the llm-migrate BI project (README, "BI").

Superset reads it through SUPERSET_CONFIG_PATH (the Makefile and bi/superset_setup.py set it).
Its own state (metadata database, secret key, admin password) lives in LLM_MIGRATE_BI_HOME
(default data/superset); the dashboards read the BI snapshot, never the warehouse. Nothing is
loaded from outside the server: the browser may fetch from the server alone (the content
security policy below), which also blocks the usage pixel the prebuilt frontend carries.
"""

import os
import secrets
from pathlib import Path

HOME = Path(os.environ.get("LLM_MIGRATE_BI_HOME", "data/superset")).resolve()
HOME.mkdir(parents=True, exist_ok=True)


def _kept_secret(name: str) -> str:
    """A random secret made once and kept in HOME (mode 600), so sessions survive restarts."""
    path = HOME / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(42))
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY") or _kept_secret("secret_key")
SQLALCHEMY_DATABASE_URI = f"sqlite:///{HOME / 'superset.db'}"

SUPERSET_WEBSERVER_PORT = 8088
MAPBOX_API_KEY = ""
FEATURE_FLAGS = {"ALERT_REPORTS": False}

_ONLY_THE_SERVER = ["'self'"]
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": _ONLY_THE_SERVER,
        "default-src": _ONLY_THE_SERVER,
        "img-src": [*_ONLY_THE_SERVER, "blob:", "data:"],
        "worker-src": [*_ONLY_THE_SERVER, "blob:"],
        "connect-src": _ONLY_THE_SERVER,
        "object-src": "'none'",
        "style-src": [*_ONLY_THE_SERVER, "'unsafe-inline'"],
        "font-src": [*_ONLY_THE_SERVER, "data:"],
        "script-src": [*_ONLY_THE_SERVER, "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
TALISMAN_DEV_CONFIG = TALISMAN_CONFIG
