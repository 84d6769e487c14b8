"""The dependency rule, enforced: handlers → service → models; scheduler → service; no Flask in the domain."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLASK_ALLOWED = {"service/app.py"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_domain_modules_do_not_import_flask():
    offenders = [rel(p) for p in modules("service") if rel(p) not in FLASK_ALLOWED
                 and any(n == "flask" or n.startswith(("flask.", "flask_", "werkzeug.wrappers")) for n in imports(p))]
    assert offenders == []


def test_only_the_composition_root_imports_handlers():
    offenders = [rel(p) for pkg in ("service", "models", "scheduler") if (ROOT / pkg).exists() for p in modules(pkg)
                 if rel(p) != "service/app.py" and any(n.split(".")[0] == "handlers" for n in imports(p))]
    assert offenders == []


def test_models_import_only_sqlalchemy_and_models():
    allowed_roots = {"sqlalchemy", "models", "__future__", "datetime", "typing", "enum", "decimal", "uuid"}
    offenders = {rel(p): sorted(n for n in imports(p) if n.split(".")[0] not in allowed_roots)
                 for p in modules("models")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_scheduler_does_not_reach_into_handlers_or_flask():
    if not (ROOT / "scheduler").exists():
        return
    offenders = [rel(p) for p in modules("scheduler") if any(n.split(".")[0] in {"handlers", "flask"} for n in imports(p))]
    assert offenders == []
