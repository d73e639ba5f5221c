"""Filter of the jupyterhub role: the hub's settings checked against their schema
(swarmhub.hub.settings) on the control machine, before any host changes; the hub
checks the same schema again when it starts.

./script/deploy runs Ansible from the project's virtualenv, where the swarmhub
package is installed; from a bare checkout the services/ folder is used directly.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    from swarmhub.hub import settings as hub_settings
except ImportError:  # pragma: no cover - Ansible run outside the project's virtualenv
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services"))
    from swarmhub.hub import settings as hub_settings


def hub_settings_problems(settings: Any) -> list[str]:
    """Every problem of the settings, each naming its key; none when they are right."""
    return hub_settings.check(settings)[1]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"swarmhub_hub_settings_problems": hub_settings_problems}
