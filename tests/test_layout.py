"""The shape every service takes (README, "Layout"), and a repository that stands on its own: no citation of
files outside it."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("catalog", "intake", "routing", "notify", "web")
# The web owns no database (its accounts come from settings; everything else it asks catalog and intake).
STATELESS = {"web"}
MODULES = ("app.py", "api.py", "domain.py", "repository.py", "settings.py")
RETIRED = ("main.py", "service.py")
# Files are read as text; data sets and lock files are not where a citation would hide.
TEXT_SUFFIXES = {".py", ".md", ".sql", ".toml", ".yaml", ".yml", ".txt", ".cfg", ".ini", ".json", ".xml"}
# The design notes and research the project started from live outside the repository; it must not send a
# reader there.
OUTSIDE = ("../shared", "/work/shared", "DESIGN.md", "research/")


def package(service: str) -> Path:
    return ROOT / "services" / service / "src" / service


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_one_shape(service: str) -> None:
    root = package(service)
    expected = [m for m in MODULES if not (service in STATELESS and m == "repository.py")]
    missing = [name for name in expected if not (root / name).is_file()]
    assert not missing, f"{service} lacks {missing}"
    if service not in STATELESS:
        assert (root / "migrations").is_dir() and any((root / "migrations").glob("*.sql"))
    retired = [name for name in RETIRED if (root / name).exists()]
    assert not retired, f"{service} still has {retired}"
    # handlers.py where the service reacts to events (the catalog only publishes), and only there.
    consumes = "runtime.consume(" in (root / "app.py").read_text()
    assert (root / "handlers.py").is_file() == consumes, f"{service}: handlers.py if and only if it consumes"


@pytest.mark.parametrize("service", SERVICES)
def test_create_app_builds_from_given_settings(service: str) -> None:
    app = importlib.import_module(f"{service}.app")
    create_app = getattr(app, "create_app", None)
    assert callable(create_app), f"{service}.app has no create_app"
    parameters = inspect.signature(create_app).parameters
    assert "settings" in parameters, f"{service}.app.create_app takes no settings"
    assert parameters["settings"].default is None, "settings default to None (read from the environment)"


def repository_text_files() -> list[Path]:
    roots = [ROOT / "services", ROOT / "libs", ROOT / "tests", ROOT / "docs"]
    files = [ROOT / "README.md"]
    for root in roots:
        files += [
            p
            for p in root.rglob("*")
            if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts
        ]
    return files


def test_nothing_cites_files_outside_the_repository() -> None:
    this_file = Path(__file__).resolve()
    citing = []
    for path in repository_text_files():
        if path.resolve() == this_file:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        citing += [f"{path.relative_to(ROOT)}: {cited}" for cited in OUTSIDE if cited in text]
    assert not citing, "files outside the repository are cited:\n" + "\n".join(citing)
