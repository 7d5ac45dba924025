"""`floe platform test`: check a compiled platform before it ships.

Two kinds of tests run against the compiled tree:

1. Built-in consistency checks: regexes compile and cannot backtrack catastrophically,
   naming prefixes cover the constrained layers, quality gates can be met, every
   classification rule, permission and namespace grant names something that exists.
2. The platform team's own cases (`manifests/<name>/tests/*.yaml`): a tiny inline
   project and the verdict the rules must reach, run through the very `evaluate()`
   that `floe compile` uses for data teams.

Case file format::

    name: Naming convention enforcement      # the line shown in the report
    cases:
      - name: orders without prefix fails
        models:
          - name: orders
            layer: bronze
            schema: bronze
            columns:
              - {name: order_id, tests: [not_null, unique]}
        expect: {fail: [naming.prefix]}       # or `expect: pass`, or {warn: [...]}

`expect: pass` means no error finding. `fail: [ids]` means each id fires as an error
and no other rule does; `warn: [ids]` means each id fires as a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe.errors import UsageError
from floe.rules.case_props import case_extras, with_case_props
from floe.rules.context import DEFAULT_PREFIXES, is_known_test
from floe.rules.engine import RULE_IDS, EnforcementResult, evaluate
from floe.rules.model import Column, Model, Project
from floe.rules.regex_safety import UnsafeRegex, check_regex
from floe.rules.yaml_lines import LinedYaml, load_yaml
from floe.tree.model import PlatformTree
from floe.yaml_loader import check_yaml_limits

SLUG = "policy_test_invalid"
KNOWN_PRIVILEGES = frozenset(
    {
        "select",
        "insert",
        "update",
        "delete",
        "truncate",
        "references",
        "usage",
        "create",
        "read",
        "write",
        "all",
        "admin",
        "ownership",
        "monitor",
        "drop",
        "grant",
    }
)


@dataclass
class CaseResult:
    name: str
    line: int
    passed: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "line": self.line, "passed": self.passed, "reason": self.reason}


@dataclass
class TestResult:
    name: str
    kind: str  # "builtin" | "cases"
    problems: list[str] = field(default_factory=list)
    file: str | None = None
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(case.passed for case in self.cases)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "problems": self.problems,
        }
        if self.kind == "cases":
            out["file"] = self.file
            out["cases"] = [case.to_json() for case in self.cases]
        return out


@dataclass
class PolicyTestReport:
    tests: list[TestResult]
    tests_dir: str | None

    @property
    def passed(self) -> bool:
        return all(test.passed for test in self.tests)

    @property
    def failed(self) -> int:
        return sum(1 for test in self.tests if not test.passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "platform_test",
            "passed": self.passed,
            "tests_dir": self.tests_dir,
            "summary": {
                "tests": len(self.tests),
                "failed": self.failed,
                "cases": sum(len(test.cases) for test in self.tests),
            },
            "tests": [test.to_json() for test in self.tests],
        }

    def text_lines(self) -> list[str]:
        lines = ["Running policy tests..."]
        for test in self.tests:
            mark = "✓" if test.passed else "✗"
            label = test.name
            if test.kind == "cases":
                failed = sum(1 for case in test.cases if not case.passed)
                count = len(test.cases)
                label += (
                    f" ({count} case{'s' if count != 1 else ''})"
                    if not failed
                    else f" ({failed} of {count} cases failed)"
                )
            lines.append(f"  {mark} {label}")
            lines.extend(f"      - {problem}" for problem in test.problems)
            lines.extend(
                f"      ✗ {case.name} ({test.file}:{case.line}): {case.reason}"
                for case in test.cases
                if not case.passed
            )
        if self.tests_dir is None:
            lines.append("  (no platform test cases found; add manifests/<name>/tests/*.yaml)")
        lines.append("")
        total = len(self.tests)
        if self.passed:
            lines.append(f"All {total} tests passed")
        else:
            lines.append(f"{self.failed} of {total} tests failed")
        return lines


def run_policy_tests(
    tree: PlatformTree, tests_dir: Path | None, *, display_root: Path | None = None
) -> PolicyTestReport:
    results = [TestResult(name, "builtin", check(tree)) for name, check in BUILTIN_CHECKS]
    if tests_dir is not None:
        for path in sorted(tests_dir.glob("*.y*ml")):
            results.append(run_case_file(tree, path, _display(path, display_root)))
    results += inherited_results(tree)
    return PolicyTestReport(results, _display(tests_dir, display_root) if tests_dir else None)


def inherited_results(tree: PlatformTree) -> list[TestResult]:
    """The case files the platforms this one extends shipped (manifest.json `inheritance`)."""
    inheritance = tree.manifest.inheritance
    if inheritance is None or not inheritance.parents:
        return []  # a platform's own shared tests already ran from its tests/ folder
    own = f"{tree.manifest.metadata.name} v{tree.manifest.metadata.version}"
    results = []
    for shared in inheritance.tests:
        if shared.platform == own:
            continue
        display = f"{shared.platform}: tests/{shared.file}"
        result = run_case_text(tree, shared.text, display, Path(shared.file).stem)
        result.name = f"{result.name} (inherited from {shared.platform})"
        results.append(result)
    return results


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


# ---- finding the cases ---------------------------------------------------------------


def find_tests_dir(tree: PlatformTree, manifest_dir: Path | None, cwd: Path) -> Path | None:
    """`--manifest-dir` (its tests/ or itself), else the manifest whose name matches."""
    if manifest_dir is not None:
        if (manifest_dir / "tests").is_dir():
            return manifest_dir / "tests"
        if manifest_dir.is_dir() and any(manifest_dir.glob("*.y*ml")):
            return manifest_dir
        raise UsageError(
            "platform_tests_missing",
            f"{manifest_dir}: no tests/ folder with case files",
            hint="pass the folder that holds manifest.yaml and tests/",
        )
    manifests = cwd / "manifests"
    name = tree.manifest.metadata.name
    candidates = sorted(path.parent for path in manifests.glob("*/manifest.y*ml"))
    for folder in candidates:
        if (folder / "tests").is_dir() and _manifest_name(folder) == name:
            return folder / "tests"
    if (manifests / name / "tests").is_dir():
        return manifests / name / "tests"
    with_tests = [folder for folder in candidates if (folder / "tests").is_dir()]
    return with_tests[0] / "tests" if len(with_tests) == 1 else None


def _manifest_name(folder: Path) -> str | None:
    for filename in ("manifest.yaml", "manifest.yml"):
        path = folder / filename
        if path.is_file():
            try:
                doc = load_yaml(path.read_text(encoding="utf-8"), str(path))
            except (UsageError, OSError, UnicodeDecodeError):
                return None
            metadata = doc.data.get("metadata") if isinstance(doc.data, dict) else None
            return str(metadata.get("name")) if isinstance(metadata, dict) else None
    return None


# ---- built-in checks -----------------------------------------------------------------


def _known_layers(tree: PlatformTree) -> set[str]:
    rules = tree.naming_rules
    prefixes = dict(rules.prefixes) or DEFAULT_PREFIXES[rules.pattern]
    return set(prefixes) | set(tree.layer_constraints.layers)


def check_regexes(tree: PlatformTree) -> list[str]:
    problems: list[str] = []
    rules = tree.naming_rules
    patterns = [
        ("naming.custom_regex", rules.custom_regex),
        ("schema column_name_pattern", tree.schema_registry.column_name_pattern),
    ]
    for label, pattern in patterns:
        if pattern is None:
            continue
        try:
            check_regex(pattern)
        except UnsafeRegex as exc:
            problems.append(f"naming.regex_unsafe: {label} {pattern!r}: {exc}")
    if rules.pattern == "custom" and not rules.custom_regex and not rules.prefixes:
        problems.append("pattern custom needs custom_regex or prefixes")
    for layer, prefix in sorted(rules.prefixes.items()):
        if not prefix or prefix != prefix.strip() or "." in prefix:
            problems.append(f"prefix of layer {layer} must be a plain name start, not {prefix!r}")
    return problems


def check_prefix_layers(tree: PlatformTree) -> list[str]:
    rules = tree.naming_rules
    if rules.enforcement == "off" or (rules.pattern == "custom" and not rules.prefixes):
        return []
    prefixes = dict(rules.prefixes) or DEFAULT_PREFIXES[rules.pattern]
    problems = [
        f"layer {layer} has required tests but no naming prefix "
        f"(prefixes: {', '.join(sorted(prefixes)) or 'none'})"
        for layer in sorted(tree.layer_constraints.layers)
        if layer not in prefixes
    ]
    seen: dict[str, str] = {}
    for layer, prefix in sorted(prefixes.items()):
        if prefix in seen:
            problems.append(f"layers {seen[prefix]} and {layer} share the prefix {prefix!r}")
        seen[prefix] = layer
    return problems


def check_quality_gates(tree: PlatformTree) -> list[str]:
    gates = tree.quality_gates
    problems: list[str] = []
    if not 0 <= gates.minimum_test_coverage <= 100:
        problems.append(f"minimum_test_coverage {gates.minimum_test_coverage:g} is outside 0..100")
    problems.extend(
        f"required test {test!r} is not a known test type"
        for test in gates.required_tests
        if not is_known_test(test)
    )
    for layer, constraint in sorted(tree.layer_constraints.layers.items()):
        problems.extend(
            f"layer {layer} requires {test!r}, which is not a known test type"
            for test in constraint.required_tests
            if not is_known_test(test)
        )
    return problems


def check_classification(tree: PlatformTree) -> list[str]:
    policy = tree.classification
    levels = set(policy.levels)
    problems: list[str] = []
    if not policy.levels:
        problems.append("no classification levels defined")
    if len(levels) != len(policy.levels):
        problems.append("classification levels are listed twice")
    if policy.default_level is not None and policy.default_level not in levels:
        problems.append(f"default_level {policy.default_level!r} is not a level")
    layers = _known_layers(tree)
    namespaces = set(tree.namespaces.namespaces)
    for level, rule in sorted(policy.rules.items()):
        if level not in levels:
            problems.append(f"rule for unknown level {level!r} (levels: {', '.join(levels)})")
        problems.extend(
            f"rule {level}: forbidden layer {layer!r} is not a platform layer"
            for layer in rule.forbidden_layers
            if layer not in layers
        )
        problems.extend(
            f"rule {level}: forbidden namespace {ns!r} is not an approved namespace"
            for ns in rule.forbidden_namespaces
            if ns not in namespaces
        )
    return problems


def check_permissions(tree: PlatformTree) -> list[str]:
    policy = tree.access_control
    roles = set(policy.roles)
    problems: list[str] = []
    for role, privileges in sorted(policy.permissions.items()):
        if role not in roles:
            problems.append(f"permission for unknown role {role!r} (roles: {', '.join(roles)})")
        problems.extend(
            f"role {role}: unknown privilege {privilege!r}" for privilege in _unknown(privileges)
        )
    return problems


def _unknown(privileges: list[str]) -> list[str]:
    return [privilege for privilege in privileges if privilege.lower() not in KNOWN_PRIVILEGES]


def check_namespace_grants(tree: PlatformTree) -> list[str]:
    roles = set(tree.access_control.roles)
    namespaces = set(tree.namespaces.namespaces)
    problems: list[str] = []
    for namespace, grants in sorted(tree.namespaces.grants.items()):
        if namespace not in namespaces:
            problems.append(f"grants for unapproved namespace {namespace!r}")
        for role, privileges in sorted(grants.items()):
            if role not in roles:
                problems.append(f"namespace {namespace}: grant to unknown role {role!r}")
            problems.extend(
                f"namespace {namespace}: unknown privilege {privilege!r} for {role}"
                for privilege in _unknown(privileges)
            )
    return problems


BUILTIN_CHECKS: tuple[tuple[str, Callable[[PlatformTree], list[str]]], ...] = (
    ("Naming rules compile and are ReDoS-safe", check_regexes),
    ("Naming prefixes cover the constrained layers", check_prefix_layers),
    ("Quality gates are satisfiable", check_quality_gates),
    ("Classification rules name known levels", check_classification),
    ("Permissions name known roles", check_permissions),
    ("Namespace grants name known roles", check_namespace_grants),
)


# ---- user cases ----------------------------------------------------------------------


def run_case_file(tree: PlatformTree, path: Path, display: str) -> TestResult:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(SLUG, f"{display}: cannot read: {exc}") from None
    return run_case_text(tree, text, display, path.stem)


def run_case_text(tree: PlatformTree, text: str, display: str, stem: str) -> TestResult:
    """One case file's cases against `tree` (a file on disk, or one a parent shipped)."""
    check_yaml_limits(text, display, slug=SLUG)
    doc = load_yaml(text, display, slug=SLUG)
    data = doc.data
    if isinstance(data, list):
        data = {"cases": data}
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise UsageError(SLUG, f"{display}:1: expected `cases:` with a list of test cases")
    title = str(data.get("name") or stem.replace("_", " ").replace("-", " ").capitalize())
    result = TestResult(title, "cases", file=display)
    for case in data["cases"]:
        result.cases.append(run_case(tree, case, doc, display))
    if not result.cases:
        result.problems.append("the file has no cases")
    return result


def run_case(tree: PlatformTree, case: Any, doc: LinedYaml, display: str) -> CaseResult:
    line = doc.line(case)
    if not isinstance(case, dict) or not isinstance(case.get("models"), list):
        raise UsageError(SLUG, f"{display}:{line}: a case needs `name:` and a `models:` list")
    name = str(case.get("name") or f"case at line {line}")
    fail, warn = _expectation(case.get("expect"), display, line)
    project = project_from_case(case, doc, display)
    outcome = evaluate(project, tree)
    return CaseResult(name, line, *_verdict(outcome, fail, warn))


def _expectation(expect: Any, display: str, line: int) -> tuple[set[str] | None, set[str]]:
    """(error rule ids expected, or None for `pass`; warning rule ids expected)."""
    if expect == "pass":
        return None, set()
    if expect == "fail":
        return set(), set()
    if isinstance(expect, dict) and set(expect) <= {"fail", "warn"}:
        fail = _rule_list(expect.get("fail"), display, line)
        warn = _rule_list(expect.get("warn"), display, line)
        return (fail if "fail" in expect else None), warn
    raise UsageError(
        SLUG,
        f"{display}:{line}: expect must be `pass`, `fail`, or {{fail: [rule ids], warn: [...]}}",
    )


def _rule_list(value: Any, display: str, line: int) -> set[str]:
    if value is None:
        return set()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise UsageError(SLUG, f"{display}:{line}: expected a list of rule ids")
    unknown = sorted(str(item) for item in items if item not in RULE_IDS)
    if unknown:
        raise UsageError(
            SLUG,
            f"{display}:{line}: unknown rule id {', '.join(unknown)}",
            hint="rule ids are listed in docs/rules.md",
        )
    return {str(item) for item in items}


def _verdict(outcome: EnforcementResult, fail: set[str] | None, warn: set[str]) -> tuple[bool, str]:
    errors = outcome.rule_ids("error")
    warnings = outcome.rule_ids("warning")
    problems: list[str] = []
    if fail is None:
        if errors:
            problems.append(f"expected pass, got {_describe(outcome, errors)}")
    else:
        if not errors:
            problems.append("expected a failure, but no rule fired")
        missing = sorted(fail - errors)
        if missing:
            problems.append(f"expected {', '.join(missing)} to fail, but it did not")
        unexpected = errors - fail if fail else set()
        if unexpected:
            problems.append(f"unexpected {_describe(outcome, unexpected)}")
    missing_warn = sorted(warn - warnings)
    if missing_warn:
        problems.append(f"expected warning {', '.join(missing_warn)}, but it did not fire")
    return not problems, "; ".join(problems)


def _describe(outcome: EnforcementResult, rule_ids: set[str]) -> str:
    first = {}
    for finding in outcome.findings:
        if finding.rule_id in rule_ids and finding.rule_id not in first:
            first[finding.rule_id] = finding
    return "; ".join(f"{rule}: {first[rule].message}" for rule in sorted(first))


def project_from_case(case: dict[str, Any], doc: LinedYaml, display: str) -> Project:
    """The inline project of one case; lines point into the case file."""
    models: dict[str, Model] = {}
    for item in case["models"]:
        line = doc.line(item)
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise UsageError(SLUG, f"{display}:{line}: every model needs a `name:`")
        model = with_case_props(_case_model(item, doc, display, line), item)
        models[model.name] = model
    return Project(
        name=str(case.get("name") or "case"),
        root=Path("."),
        models=models,
        origin="inline",
        config_file=display,
        **case_extras(case, doc, display),
    )


def _case_model(item: dict[str, Any], doc: LinedYaml, display: str, line: int) -> Model:
    meta = dict(item.get("meta") or {})
    layer = item.get("layer", meta.get("layer"))
    tests = [_test_name(t, display, line) for t in item.get("tests") or []]
    if item.get("freshness") or "freshness" in meta:
        tests.append("freshness")
    return Model(
        name=item["name"],
        file=display,
        line=line,
        sql_file=None,
        layer=str(layer) if layer else None,
        schema=str(item["schema"]) if item.get("schema") else None,
        description=item.get("description"),
        columns=_case_columns(item.get("columns"), doc, display, line),
        tests=tuple(tests),
        refs=tuple(str(ref) for ref in item.get("refs") or []),
        grants=_case_grants(item.get("grants"), display, line),
        meta=meta,
        materialized=item.get("materialized"),
        primary_key=item.get("primary_key", meta.get("primary_key")),
        folders=(),
        layer_source="meta" if layer else None,
    )


def _case_columns(value: Any, doc: LinedYaml, display: str, line: int) -> tuple[Column, ...]:
    if value is None:
        return ()
    if isinstance(value, dict):
        value = [{"name": key, **(spec or {})} for key, spec in value.items()]
    if not isinstance(value, list):
        raise UsageError(SLUG, f"{display}:{line}: `columns:` must be a list")
    columns: list[Column] = []
    for item in value:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or "name" not in item:
            raise UsageError(SLUG, f"{display}:{line}: every column needs a `name:`")
        column_line = doc.line(item, line)
        columns.append(
            Column(
                name=str(item["name"]),
                description=item.get("description"),
                data_type=item.get("data_type"),
                classification=item.get("classification"),
                tests=tuple(_test_name(t, display, column_line) for t in item.get("tests") or []),
                line=column_line,
            )
        )
    return tuple(columns)


def _test_name(value: Any, display: str, line: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value)))
    raise UsageError(SLUG, f"{display}:{line}: cannot read test {value!r}")


def _case_grants(value: Any, display: str, line: int) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(SLUG, f"{display}:{line}: grants must map privilege -> role(s)")
    return {
        str(privilege): (roles,) if isinstance(roles, str) else tuple(map(str, roles or []))
        for privilege, roles in value.items()
    }
