"""Sets up Superset on the BI snapshot (README, "BI"): its metadata database, an admin
account, and the llm-migrate dashboards (bi/dashboards.py), imported again on every call so
they follow the snapshot's schema. Run with Superset's environment: `make bi` does.

The admin's password is LLM_MIGRATE_BI_PASSWORD, or else one made once and kept in
LLM_MIGRATE_BI_HOME/admin_password (mode 600). Prints where the dashboards are.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dashboards import write_bundle  # noqa: E402

ADMIN = "admin"


def superset(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The `superset` command of this environment, configured by bi/superset_config.py."""
    env = {**os.environ, "SUPERSET_CONFIG_PATH": str(HERE / "superset_config.py"),
           "FLASK_APP": "superset"}
    command = [str(Path(sys.executable).with_name("superset")), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"superset {args[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done


def admin_password(home: Path) -> str:
    given = os.environ.get("LLM_MIGRATE_BI_PASSWORD")
    if given:
        return given
    path = home / "admin_password"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(18))
    return path.read_text().strip()


def set_up(snapshot: Path, home: Path) -> Path:
    """Metadata database, admin, roles and the dashboards; returns the bundle imported."""
    home.mkdir(parents=True, exist_ok=True)
    superset("db", "upgrade")
    users = superset("fab", "list-users").stdout
    if f"username:{ADMIN}" not in users.replace(" ", ""):
        superset("fab", "create-admin", "--username", ADMIN, "--firstname", "BI",
                 "--lastname", "Admin", "--email", "admin@localhost",
                 "--password", admin_password(home))
    superset("init")
    bundle = write_bundle(snapshot, home / "dashboards.zip")
    superset("import-dashboards", "--path", str(bundle), "--username", ADMIN)
    return bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, required=True, help="the BI snapshot")
    args = parser.parse_args()
    if not args.snapshot.is_file():
        raise SystemExit(f"{args.snapshot}: no BI snapshot (make demo, or llm-migrate bi "
                         "publish, writes it)")
    home = Path(os.environ.get("LLM_MIGRATE_BI_HOME", "data/superset")).resolve()
    os.environ["LLM_MIGRATE_BI_HOME"] = str(home)
    set_up(args.snapshot, home)
    print(f"Superset is set up in {home} on {args.snapshot}: `make bi-serve`, then "
          f"http://127.0.0.1:8088/superset/dashboard/verdict/ (user {ADMIN}, password "
          f"LLM_MIGRATE_BI_PASSWORD or {home / 'admin_password'})")


if __name__ == "__main__":
    main()
