"""The layering rules of `app/`'s docstring, as a test over the static import graph (every
`import` and `from ... import` in every module, including those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("app", "worker", "whisper_jobs_client")


def modules(package: str) -> dict[str, Path]:
    base = ROOT / "client" / "src" if package == "whisper_jobs_client" else ROOT
    found = {}
    for path in (base / package).rglob("*.py"):
        parts = path.relative_to(base).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {n for n in names if n.split(".")[0] in OURS}


def violations(package: str, allowed: tuple[str, ...]) -> list[str]:
    bad = []
    for name, path in sorted(modules(package).items()):
        for imported in sorted(imports_of(path)):
            if imported in ("app", "app.__version__"):
                continue  # the package's own version, not a layer
            if not imported.startswith(allowed):
                bad.append(f"{name} imports {imported}")
    return bad


def test_the_contract_imports_nothing_else_of_ours() -> None:
    # The client's `signing` is stdlib-only and shared on purpose (the server signs with it).
    assert violations("app.contract", ("app.contract", "whisper_jobs_client.signing")) == []


def test_storage_imports_only_the_contract_and_core() -> None:
    assert violations("app.storage", ("app.storage", "app.contract", "app.core")) == []


def test_core_imports_only_the_contract() -> None:
    assert violations("app.core", ("app.core", "app.contract", "whisper_jobs_client")) == []


def test_the_api_never_imports_the_worker() -> None:
    allowed = ("app.api", "app.contract", "app.storage", "app.core", "whisper_jobs_client")
    assert violations("app.api", allowed) == []


def test_the_worker_never_imports_the_api() -> None:
    assert violations("worker", ("worker", "app.contract", "app.storage", "app.core")) == []


def test_the_client_imports_nothing_of_the_server() -> None:
    assert violations("whisper_jobs_client", ("whisper_jobs_client",)) == []


def test_every_module_is_in_a_labelled_room() -> None:
    rooms = ("app.contract.", "app.storage.", "app.core.", "app.api.")
    loose = [m for m in modules("app") if m != "app" and not m.startswith(rooms)
             and m not in {"app.contract", "app.storage", "app.core", "app.api"}]  # fmt: skip
    assert loose == []
