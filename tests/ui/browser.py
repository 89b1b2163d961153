"""How this project drives JupyterLab in a browser: Debian's Chromium (never a
downloaded one) with the flags this closed network needs, and a Lab configured
for being driven (no news or update checks, the app handle exposed). The UI tests
and benchmarks/ui_views.py share it."""

from __future__ import annotations

import json
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def lab_config(root: Path) -> dict:
    """``LabApp`` settings with user settings under ``root``: no news or update checks
    (no network here), and ``window.jupyterapp`` for waiting on commands."""
    settings = root / "lab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return {
        "LabApp": {
            "expose_app_in_browser": True,
            "user_settings_dir": str(settings),
            "workspaces_dir": str(root / "workspaces"),
        }
    }
