"""The layout's promises (issue 10), from the side import-linter does not see:
common/, backup/ and restuser/ import only the standard library and what is
named here, and the copy lists ship common/ with each wing that runs outside
the hub image. The wings' independence is lint-imports' job
(services/pyproject.toml)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SWARMHUB = ROOT / "services" / "swarmhub"


def outside_imports(path: Path, allowed: set[str]) -> set[str]:
    """Top-level packages a file imports that are neither the standard library,
    swarmhub (relative imports: import-linter checks those) nor allowed."""
    tops = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            tops.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            tops.add(node.module.split(".")[0])
    return {t for t in tops if t not in sys.stdlib_module_names and t not in allowed}


@pytest.mark.parametrize(
    "package, allowed",
    [
        ("common", set()),
        # the backup image has duplicity's virtualenv and no other package
        ("backup", set()),
        # the hub host's Debian packages: python3-flask (with werkzeug); PyYAML optional
        ("restuser", {"flask", "werkzeug", "yaml"}),
    ],
)
def test_a_wing_shipped_outside_the_hub_image_imports_only_what_its_host_has(package, allowed):
    files = sorted((SWARMHUB / package).glob("*.py"))
    assert files
    for path in files:
        assert not outside_imports(path, allowed), f"{package}/{path.name}"


def test_the_copy_lists_ship_common_with_restuser_and_backup():
    install = (ROOT / "roles/restuser/tasks/install.yml").read_text()
    assert "swarmhub/__init__.py swarmhub/common swarmhub/restuser" in install
    build = (ROOT / "script/lib/build-images").read_text()
    assert '"$repo"/services/swarmhub/common/*.py' in build
    assert '"$repo"/services/swarmhub/backup/*.py' in build
