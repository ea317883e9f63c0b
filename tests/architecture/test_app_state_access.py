"""Only the typed accessors touch Starlette's untyped ``app.state``.

The chassis keeps one ``ServiceState`` on ``app.state`` and every module reads it through
``agora_chassis.state`` (``service_state``, ``service_settings``, ``service_extras``); a service
reads its own resources through the accessor in its wiring module. A new ``app.state.<name>`` (or
``getattr(app, "state")``) anywhere else would bring back an ``Any`` that mypy cannot check, so
this test lists every offender.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ("libs/chassis/src", "libs/contracts/src", "services", "cli/src", "templates")
ACCESSOR_MODULES = frozenset({"libs/chassis/src/agora_chassis/state.py"})
UNTYPED_STATE = re.compile(r"""app\.state\b|getattr\([^)]*["']state["']""")


def untyped_state_lookups(root: Path, allowed: frozenset[str]) -> list[str]:
    """Every ``file:line`` under ``root``'s source trees that reads ``app.state`` directly.

    Args:
        root: The workspace root.
        allowed: Paths (relative to ``root``) of the accessor modules.

    Returns:
        The offending lines, as ``path:line: text``.
    """
    offenders = []
    for source_root in SOURCE_ROOTS:
        for path in sorted((root / source_root).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative in allowed or "/tests/" in f"/{relative}" or "/.venv/" in relative:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if UNTYPED_STATE.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    return offenders


def test_app_state_is_read_only_through_the_typed_accessors() -> None:
    offenders = untyped_state_lookups(ROOT, ACCESSOR_MODULES)

    assert offenders == [], "read the app's state through agora_chassis.state:\n" + "\n".join(
        offenders
    )


def test_app_state_guard_reports_a_direct_lookup(tmp_path: Path) -> None:
    module = tmp_path / "services/demo/src/agora_demo/api/deps.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "def cache(request):\n"
        "    return request.app.state.product_cache\n"
        "def limiter(request):\n"
        '    return getattr(request.app, "state").rate_limiter\n',
        encoding="utf-8",
    )
    test_module = tmp_path / "services/demo/tests/test_deps.py"
    test_module.parent.mkdir(parents=True)
    test_module.write_text("app.state.x = 1\n", encoding="utf-8")  # tests may poke it

    offenders = untyped_state_lookups(tmp_path, frozenset())

    assert offenders == [
        "services/demo/src/agora_demo/api/deps.py:2: return request.app.state.product_cache",
        'services/demo/src/agora_demo/api/deps.py:4: return getattr(request.app, "state")'
        ".rate_limiter",
    ]
