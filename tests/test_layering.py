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
    for path in (base / package.replace(".", "/")).rglob("*.py"):
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
    loose = [
        m
        for m in modules("app")
        if m != "app"
        and not m.startswith(rooms)
        and m not in {"app.contract", "app.storage", "app.core", "app.api"}
    ]
    assert loose == []


def all_imports_of(path: Path) -> set[str]:
    """Every module `path` imports, ours and others' (top-level names and dotted ones)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_decoding_imports_no_celery_redis_fastapi_or_storage() -> None:
    """`worker/decoding/` is audio in, transcript out: testable and benchmarkable on its own."""
    forbidden = ("celery", "kombu", "redis", "fastapi", "starlette", "app.storage", "app.api")
    bad = [
        f"{name} imports {imported}"
        for name, path in sorted(modules("worker.decoding").items())
        for imported in sorted(all_imports_of(path))
        if imported.split(".")[0] in forbidden or imported.startswith(forbidden)
    ]
    assert bad == []
    others = [m for m in modules("worker.decoding") if m != "worker.decoding"]
    assert len(others) >= 6  # the room is not empty (a renamed package would pass silently)


def test_decoding_imports_nothing_else_of_the_worker() -> None:
    allowed = ("worker.decoding", "worker.diarization", "app.contract")
    assert violations("worker.decoding", allowed) == []


def test_diarization_imports_only_the_contract_and_the_weights_check() -> None:
    allowed = ("worker.diarization", "worker.decoding.weights", "app.contract")
    assert violations("worker.diarization", allowed) == []
    assert len(modules("worker.diarization")) >= 5


def test_no_import_cycle_among_our_modules() -> None:
    graph = {}
    for package in OURS:
        for name, path in modules(package).items():
            graph[name] = {i for i in imports_of(path) if i != name}
    known = set(graph)
    # `from a.b import c` names `a.b.c`, a module or a name in one: keep the module.
    edges = {
        name: {i if i in known else i.rsplit(".", 1)[0] for i in imported} & known - {name}
        for name, imported in graph.items()
    }
    cycles, done, stack = [], set(), []

    def visit(node: str) -> None:
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt in stack:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in done:
                visit(nxt)
        stack.pop()
        done.add(node)

    for node in sorted(edges):
        if node not in done:
            visit(node)
    assert cycles == []
