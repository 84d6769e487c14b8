"""The dependency rules, enforced by reading every import with `ast`:

- layers: handlers → service → models; scheduler → service; no Flask in the domain;
- feature packages: each package of `service/` imports only the packages its `__init__` names (PACKAGE_RULES), so a
  new edge between features fails here before it lands. `test_a_planted_forbidden_import_fails` proves the check
  can fail.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLASK_ALLOWED = {"service/app.py"}
# The composition roots: they wire every package together, and only they may.
COMPOSITION = {"service/__init__.py", "service/app.py", "service/bootstrap.py"}

# Which service packages each package may import (its own modules always). Keep in step with the package docstrings.
PACKAGE_RULES: dict[str, set[str]] = {
    "core": set(),
    "wechat_api": {"core"},
    "chat": {"core"},
    "policy": {"core", "chat"},
    "reporting": {"core", "chat"},
    "notices": {"core", "chat", "wechat_api"},
    "messages": {"core", "chat", "wechat_api", "notices"},
    "wechat": {"core", "chat", "policy", "reporting", "notices", "messages"},
    "console": {"core", "chat", "policy", "reporting", "notices", "messages", "wechat_api"},
}
# The scheduler runs jobs of these packages (and trims the inbox); never the console, the router or the simulator.
SCHEDULER_MAY_IMPORT = {"core", "chat", "reporting", "notices", "messages", "wechat_api", "wechat.inbox"}


def imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file, `from a.b import c` counted as `a.b` and `a.b.c`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(root: Path, package: str):
    return sorted((root / package).rglob("*.py"))


def rel(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix()


def service_package(name: str) -> str | None:
    """`service.reporting.units` → 'reporting'; None for what is not a feature package."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "service" and parts[1] in PACKAGE_RULES else None


def package_violations(root: Path) -> dict[str, list[str]]:
    """File → the service packages it imports against PACKAGE_RULES."""
    found: dict[str, list[str]] = {}
    for path in modules(root, "service"):
        name = rel(path, root)
        if name in COMPOSITION:
            continue
        parts = name.split("/")
        if len(parts) < 3 or parts[1] not in PACKAGE_RULES:
            found[name] = ["(a module outside every feature package)"]
            continue
        own = parts[1]
        allowed = PACKAGE_RULES[own] | {own}
        bad = sorted({pkg for n in imports(path) if (pkg := service_package(n)) and pkg not in allowed})
        if bad:
            found[name] = bad
    return found


def test_service_is_made_of_feature_packages_with_their_rules():
    packages = {p.name for p in (ROOT / "service").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(PACKAGE_RULES)
    assert package_violations(ROOT) == {}


def test_every_package_says_what_it_owns_and_may_import():
    for name in PACKAGE_RULES:
        doc = ast.get_docstring(ast.parse((ROOT / "service" / name / "__init__.py").read_text("utf-8")))
        assert doc and "May import" in doc, name


def test_nothing_in_service_imports_the_console():
    offenders = [rel(p) for p in modules(ROOT, "service") if rel(p) not in COMPOSITION
                 and not rel(p).startswith("service/console/")
                 and any(service_package(n) == "console" for n in imports(p))]
    assert offenders == []


def test_a_planted_forbidden_import_fails(tmp_path):
    """The rule can fail: reporting reaching into notices (it publishes an outbox row instead) is reported."""
    for package in PACKAGE_RULES:
        (tmp_path / "service" / package).mkdir(parents=True)
        (tmp_path / "service" / package / "__init__.py").write_text('"""May import: nothing."""\n')
    (tmp_path / "service" / "reporting" / "reports.py").write_text(
        "from service.core import clock\nfrom service.notices import delivery\n")
    (tmp_path / "service" / "chat" / "menu.py").write_text("def f():\n    from service.console import audit\n")
    (tmp_path / "service" / "stray.py").write_text("x = 1\n")
    assert package_violations(tmp_path) == {
        "service/reporting/reports.py": ["notices"],
        "service/chat/menu.py": ["console"],
        "service/stray.py": ["(a module outside every feature package)"],
    }


def test_domain_modules_do_not_import_flask():
    offenders = [rel(p) for p in modules(ROOT, "service") if rel(p) not in FLASK_ALLOWED
                 and any(n == "flask" or n.startswith(("flask.", "flask_", "werkzeug.wrappers")) for n in imports(p))]
    assert offenders == []


def test_only_the_composition_root_imports_handlers():
    offenders = [rel(p) for pkg in ("service", "models", "scheduler") if (ROOT / pkg).exists()
                 for p in modules(ROOT, pkg)
                 if rel(p) != "service/app.py" and any(n.split(".")[0] == "handlers" for n in imports(p))]
    assert offenders == []


def test_models_import_only_sqlalchemy_and_models():
    allowed_roots = {"sqlalchemy", "models", "__future__", "datetime", "typing", "enum", "decimal", "uuid"}
    offenders = {rel(p): sorted(n for n in imports(p) if n.split(".")[0] not in allowed_roots)
                 for p in modules(ROOT, "models")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_scheduler_does_not_reach_into_handlers_flask_console_or_the_simulator():
    def allowed(name: str) -> bool:
        if name.split(".")[0] in {"handlers", "flask"}:
            return False
        if not name.startswith("service."):
            return True
        parts = name.split(".")
        if len(parts) == 2 and parts[1] in PACKAGE_RULES:  # `from service.wechat import inbox`: the module decides
            return True
        return parts[1] in SCHEDULER_MAY_IMPORT or ".".join(parts[1:3]) in SCHEDULER_MAY_IMPORT

    offenders = {rel(p): sorted(n for n in imports(p) if not allowed(n)) for p in modules(ROOT, "scheduler")}
    assert {k: v for k, v in offenders.items() if v} == {}
