"""Inheritance: a domain platform's tree is its parent's, tightened by what the child sets.

Stricter wins, field by field (docs/platform-teams.md "Inheritance" has the table):

    max / strictest   coverage, naming enforcement, severities, booleans that require
                      something (block_on_failure, propagate, requires_description, ...)
    union             required tests (global and per layer), forbidden layers and
                      namespaces of a level, required meta keys, contract-required layers
    narrow            approved namespaces, roles and their privileges, grants, levels,
                      waivable rules, exempt packages, allowed access / materializations /
                      upstream layers: the child lists a subset of the parent's
    fixed             naming pattern and prefixes, regexes the parent set: equal or absent

Only what the child's manifest.yaml sets is compared (a default it did not write never
counts); what it leaves out is the parent's. A child value that loosens the parent is
`inherit_weakens` (exit 1), naming the child's `file:line:col` and the parent's value
at its `file:line:col` in the verified parent tree under `.floe/platform/vX.Y.Z/`
(JSON written by compile, so lines survive) plus `ref#/json/pointer`. Plugins, trust
anchors, metadata and `artifacts:` are the child's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from floe.errors import GateError
from floe.platform.inherit_source import Parent
from floe.platform.manifest import LoadedManifest
from floe.tree import model as tree
from floe.tree import rule_families as fam
from floe.yaml_loader import YamlDocument, YamlPath, format_path, load_yaml_with_positions

SLUG = "inherit_weakens"
ENFORCEMENT = {"off": 0, "warn": 1, "strict": 2}
SEVERITY = {"off": 0, "warn": 1, "error": 2}
FAMILY_SECTIONS = {
    "contracts": fam.CONTRACTS_FILE,
    "governance": fam.MODEL_GOVERNANCE_FILE,
    "metadata": fam.METADATA_FILE,
    "lineage": fam.LINEAGE_FILE,
    "structure": fam.STRUCTURE_FILE,
    "sources": fam.SOURCES_FILE,
    "sql": fam.SQL_FILE,
}


@dataclass(frozen=True)
class Weakening:
    child: str  # file:line:col in the child's sources
    order: tuple[str, int, int]
    path: str  # the child's manifest path
    why: str
    parent: str  # file:line:col in the cached parent tree
    pointer: str  # ref#/json/pointer of the parent's value

    def to_json(self) -> dict[str, str]:
        return {
            "child": self.child,
            "path": self.path,
            "why": self.why,
            "parent": self.parent,
            "parent_ref": self.pointer,
        }


def _get(data: Any, path: YamlPath) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Merge:
    """Collects weakenings while the merged models are built."""

    def __init__(self, parent: Parent, loaded: LoadedManifest) -> None:
        self.parent = parent
        self.loaded = loaded
        self.found: list[Weakening] = []
        self._docs: dict[str, YamlDocument] = {}

    def given(self, path: YamlPath) -> bool:
        return _get(self.loaded.raw, path) is not None

    def _doc(self, rel: str) -> YamlDocument:
        if rel not in self._docs:
            file = self.parent.tree_dir / rel
            self._docs[rel] = load_yaml_with_positions(
                file, slug="tree_invalid", display=_shown(file)
            )
        return self._docs[rel]

    def weakens(self, path: YamlPath, why: str, rel: str, json_path: YamlPath) -> None:
        where = self.loaded.source_map.locate(path)
        doc = self._doc(rel)
        pointer = "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in json_path)
        self.found.append(
            Weakening(
                child=str(where),
                order=(where.file, where.mark.line, where.mark.column),
                path=format_path(path),
                why=why,
                parent=doc.where(json_path),
                pointer=f"{self.parent.locked.ref} {rel}#/{pointer}",
            )
        )

    # ---- the kinds of field ------------------------------------------------------------

    def at_least(
        self, path: YamlPath, rel: str, jpath: YamlPath, parent: Any, child: Any, order: Any
    ) -> Any:
        """Child value if given (refused when below the parent's), else the parent's."""
        if not self.given(path):
            return parent
        if order(child) < order(parent):
            self.weakens(
                path, f"{_short(child)} is looser than the parent's {_short(parent)}", rel, jpath
            )
            return parent
        return child

    def flag(self, path: YamlPath, rel: str, jpath: YamlPath, parent: bool, child: bool) -> bool:
        return bool(self.at_least(path, rel, jpath, parent, child, int))

    def union(self, path: YamlPath, parent: list[str], child: list[str]) -> list[str]:
        if not self.given(path):
            return list(parent)
        return [*parent, *(item for item in child if item not in parent)]

    def subset(
        self,
        path: YamlPath,
        rel: str,
        jpath: YamlPath,
        parent: list[str] | None,
        child: list[str] | None,
        what: str,
    ) -> list[str] | None:
        """Narrow-only: the child's list (a subset of the parent's) if given, else the parent's."""
        if not self.given(path) or child is None:
            return None if parent is None else list(parent)
        if parent is None:
            return list(child)
        extra = [item for item in child if item not in parent]
        if extra:
            self.weakens(
                path,
                f"adds {what} {', '.join(map(repr, extra))} the parent does not allow "
                f"(parent: {', '.join(parent) or 'none'})",
                rel,
                jpath,
            )
            return list(parent)
        return list(child)

    def fixed(self, path: YamlPath, rel: str, jpath: YamlPath, parent: Any, child: Any) -> Any:
        """The parent's value stays; a child may only set it when the parent left it unset."""
        if not self.given(path) or child == parent:
            return parent
        if parent is None:
            return child
        self.weakens(
            path,
            f"changes {_short(parent)} to {_short(child)}; only the parent sets it",
            rel,
            jpath,
        )
        return parent

    def refuse_if_any(self) -> None:
        if not self.found:
            return
        self.found.sort(key=lambda w: w.order)
        first = self.found[0]
        more = f" (+{len(self.found) - 1} more)" if len(self.found) > 1 else ""
        locked = self.parent.locked
        raise GateError(
            SLUG,
            f"{first.child}: {first.path}: {first.why}; the parent {locked.name} "
            f"{locked.version} sets it at {first.parent} ({first.pointer}){more}",
            hint="a platform that extends another may only tighten it: raise the value "
            "or remove it from the child's manifest",
            details={"weakenings": [w.to_json() for w in self.found], "parent": locked.ref},
        )


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ---- the files ---------------------------------------------------------------------------


def _quality(m: _Merge, parent: tree.QualityGates, child: tree.QualityGates) -> tree.QualityGates:
    rel = tree.QUALITY_GATES_FILE
    base: YamlPath = ("governance", "quality_gates")
    coverage = m.at_least(
        (*base, "minimum_test_coverage"),
        rel,
        ("minimum_test_coverage",),
        parent.minimum_test_coverage,
        child.minimum_test_coverage,
        float,
    )
    governance = _governance(m, parent.governance, child.governance)
    return tree.QualityGates(
        minimum_test_coverage=coverage,
        required_tests=m.union(
            (*base, "required_tests"), parent.required_tests, child.required_tests
        ),
        block_on_failure=m.flag(
            (*base, "block_on_failure"),
            rel,
            ("block_on_failure",),
            parent.block_on_failure,
            child.block_on_failure,
        ),
        governance=governance,
    )


def _governance(
    m: _Merge, parent: tree.GovernancePolicy | None, child: tree.GovernancePolicy | None
) -> tree.GovernancePolicy | None:
    rel = tree.QUALITY_GATES_FILE
    p = parent or tree.GovernancePolicy()
    c = child or tree.GovernancePolicy()
    exempt = m.subset(
        ("governance", "exempt_packages"),
        rel,
        ("governance", "exempt_packages"),
        p.exempt_packages,
        c.exempt_packages,
        "exempt package",
    )
    waivers = p.waivers
    if m.given(("governance", "waivers")) and c.waivers is not None:
        if p.waivers is None:
            m.weakens(
                ("governance", "waivers"),
                "allows waivers, but the parent lets no finding be waived",
                rel,
                ("governance",),
            )
        else:
            wbase: YamlPath = ("governance", "waivers")
            jbase: YamlPath = ("governance", "waivers")
            allowed = m.subset(
                (*wbase, "allowed"),
                rel,
                (*jbase, "allowed"),
                p.waivers.allowed,
                c.waivers.allowed,
                "waivable rule",
            )
            days = m.at_least(
                (*wbase, "max_days"),
                rel,
                (*jbase, "max_days"),
                p.waivers.max_days,
                c.waivers.max_days,
                lambda v: -v,
            )
            waivers = tree.WaiverPolicy(allowed=allowed or [], max_days=days)
    if waivers is None and not exempt:
        return None
    return tree.GovernancePolicy(waivers=waivers, exempt_packages=exempt or [])


def _classification(
    m: _Merge, parent: tree.Classification, child: tree.Classification
) -> tree.Classification:
    rel = tree.CLASSIFICATION_FILE
    base: YamlPath = ("governance", "classification")
    levels = m.subset((*base, "levels"), rel, ("levels",), parent.levels, child.levels, "level")
    assert levels is not None
    if m.given((*base, "levels")) and levels != [lv for lv in parent.levels if lv in levels]:
        m.weakens(
            (*base, "levels"),
            "reorders the parent's levels (they run least to most sensitive)",
            rel,
            ("levels",),
        )
        levels = list(parent.levels)
    for level in parent.rules:
        if level not in levels and m.given((*base, "levels")):
            m.weakens(
                (*base, "levels"),
                f"drops level {level!r}, which the parent's rules protect",
                rel,
                ("rules", level),
            )
            levels = list(parent.levels)
    default = parent.default_level
    if m.given((*base, "default_level")) and child.default_level != parent.default_level:
        rank = {name: i for i, name in enumerate(parent.levels)}
        if parent.default_level is not None and rank.get(child.default_level or "", -1) < rank.get(
            parent.default_level, -1
        ):
            m.weakens(
                (*base, "default_level"),
                f"{child.default_level!r} is less sensitive than the parent's "
                f"{parent.default_level!r}",
                rel,
                ("default_level",),
            )
        else:
            default = child.default_level
    if default is not None and default not in levels:
        m.weakens(
            (*base, "levels"),
            f"drops level {default!r}, the parent's default_level",
            rel,
            ("default_level",),
        )
        levels = list(parent.levels)
    rules = dict(parent.rules)
    for level, crule in child.rules.items():
        rpath: YamlPath = (*base, "rules", level)
        prule = parent.rules.get(level, tree.ClassificationRule())
        rules[level] = tree.ClassificationRule(
            forbidden_layers=m.union(
                (*rpath, "forbidden_layers"), prule.forbidden_layers, crule.forbidden_layers
            ),
            forbidden_namespaces=m.union(
                (*rpath, "forbidden_namespaces"),
                prule.forbidden_namespaces,
                crule.forbidden_namespaces,
            ),
            requires_description=m.flag(
                (*rpath, "requires_description"),
                rel,
                ("rules", level, "requires_description"),
                prule.requires_description,
                crule.requires_description,
            ),
        )
    return tree.Classification(
        levels=levels,
        default_level=default,
        propagate=m.flag(
            (*base, "propagate"), rel, ("propagate",), parent.propagate, child.propagate
        ),
        rules={level: rule for level, rule in rules.items() if level in levels},
    )


def _access(m: _Merge, parent: tree.AccessControl, child: tree.AccessControl) -> tree.AccessControl:
    rel = tree.ACCESS_CONTROL_FILE
    base: YamlPath = ("governance", "access_control")
    roles = m.subset((*base, "roles"), rel, ("roles",), parent.roles, child.roles, "role") or []
    permissions = dict(parent.permissions)
    for role, privileges in child.permissions.items():
        narrowed = m.subset(
            (*base, "permissions", role),
            rel,
            ("permissions", role),
            parent.permissions.get(role, []),
            privileges,
            f"privilege for {role!r}:",
        )
        permissions[role] = narrowed or []
    return tree.AccessControl(
        roles=roles, permissions={r: p for r, p in permissions.items() if r in roles}
    )


def _namespaces(
    m: _Merge, parent: tree.Namespaces, child: tree.Namespaces, known_roles: list[str]
) -> tree.Namespaces:
    rel = tree.NAMESPACES_FILE
    names = (
        m.subset(
            ("catalog", "namespaces"),
            rel,
            ("namespaces",),
            parent.namespaces,
            child.namespaces,
            "namespace",
        )
        or []
    )
    grants = {ns: dict(by_role) for ns, by_role in parent.grants.items()}
    for ns, by_role in child.grants.items():
        for role, privileges in by_role.items():
            narrowed = m.subset(
                ("catalog", "grants", ns, role),
                rel,
                ("grants", ns, role),
                parent.grants.get(ns, {}).get(role, []),
                privileges,
                f"privilege on {ns!r} for {role!r}:",
            )
            grants.setdefault(ns, {})[role] = narrowed or []
    kept = {  # a namespace or role the child dropped takes its grants with it
        ns: {role: privileges for role, privileges in by_role.items() if role in known_roles}
        for ns, by_role in grants.items()
        if ns in names
    }
    return tree.Namespaces(namespaces=names, grants={ns: r for ns, r in kept.items() if r})


def _schema(
    m: _Merge, parent: tree.SchemaRegistry, child: tree.SchemaRegistry
) -> tree.SchemaRegistry:
    rel = tree.SCHEMA_REGISTRY_FILE
    base: YamlPath = ("catalog", "schema_constraints")
    out: dict[str, Any] = {}
    for name in ("require_column_descriptions", "require_column_data_types"):
        out[name] = m.flag((*base, name), rel, (name,), getattr(parent, name), getattr(child, name))
    out["column_name_pattern"] = m.fixed(
        (*base, "column_name_pattern"),
        rel,
        ("column_name_pattern",),
        parent.column_name_pattern,
        child.column_name_pattern,
    )
    return tree.SchemaRegistry(**out)


def _naming(m: _Merge, parent: tree.NamingRules, child: tree.NamingRules) -> tree.NamingRules:
    rel = tree.NAMING_RULES_FILE
    arch: YamlPath = ("data_architecture",)
    pattern = m.fixed((*arch, "pattern"), rel, ("pattern",), parent.pattern, child.pattern)
    prefixes = m.fixed(
        (*arch, "naming", "prefixes"), rel, ("prefixes",), parent.prefixes, child.prefixes
    )
    return tree.NamingRules(
        pattern=pattern,
        enforcement=m.at_least(
            (*arch, "naming", "enforcement"),
            rel,
            ("enforcement",),
            parent.enforcement,
            child.enforcement,
            ENFORCEMENT.__getitem__,
        ),
        prefixes=prefixes,
        custom_regex=m.fixed(
            (*arch, "naming", "custom_regex"),
            rel,
            ("custom_regex",),
            parent.custom_regex,
            child.custom_regex,
        ),
    )


def _layers(
    m: _Merge, parent: tree.LayerConstraints, child: tree.LayerConstraints
) -> tree.LayerConstraints:
    layers = dict(parent.layers)
    for layer, constraint in child.layers.items():
        path: YamlPath = ("data_architecture", "layers", layer, "required_tests")
        if not m.given(path):
            continue
        if layer not in layers:
            m.loaded.source_map.fail(
                path[:-1],
                f"{layer!r} is not a layer of the parent platform "
                f"(layers: {', '.join(sorted(layers))})",
                key=True,
            )
        layers[layer] = tree.LayerConstraint(
            required_tests=m.union(path, layers[layer].required_tests, constraint.required_tests)
        )
    return tree.LayerConstraints(layers=layers)


# ---- rule families -------------------------------------------------------------------------

UNION_FIELDS = {("contracts", "required", "layers"), ("contracts", "required", "access")}
ALLOWED_MAPS = {"allowed"}  # layer -> allowed things: narrow per layer


def _family(
    m: _Merge, section: str, parent: BaseModel | None, child: BaseModel | None
) -> BaseModel | None:
    if child is None or not m.given(("rules",)):
        return parent
    if parent is None:
        return child
    rel = FAMILY_SECTIONS[section]
    merged: dict[str, Any] = {}
    for name in type(parent).model_fields:
        prule, crule = getattr(parent, name), getattr(child, name)
        merged[name] = _rule(m, section, name, rel, prule, crule)
    return type(parent).model_validate(merged)


def _rule_path(m: _Merge, path: YamlPath) -> YamlPath:
    """Where the child set it: the field itself, else the preset that brought it."""
    if m.given(path):
        return path
    return ("rules", "preset") if m.given(("rules", "preset")) else ("rules",)


def _rule(m: _Merge, section: str, name: str, rel: str, prule: Any, crule: Any) -> dict[str, Any]:
    p: dict[str, Any] = prule.model_dump(mode="json")
    c: dict[str, Any] = crule.model_dump(mode="json")
    if c.get("severity", "off") == "off":
        return p  # the child does not turn it on: the parent's rule stands
    if p.get("severity", "off") == "off":
        return c  # only the child turns it on: a tightening
    out = dict(p)
    for key, pvalue in p.items():
        cvalue: Any = c[key]
        where = _rule_path(m, ("rules", section, name, key))
        jpath: YamlPath = (name, key)
        if cvalue == pvalue:
            continue
        if key == "severity":
            if SEVERITY[cvalue] < SEVERITY[pvalue]:
                m.weakens(
                    where, f"severity {cvalue} is looser than the parent's {pvalue}", rel, jpath
                )
            else:
                out[key] = cvalue
        elif (section, name, key) in UNION_FIELDS:
            out[key] = [*pvalue, *(v for v in cvalue if v not in pvalue)]
        elif key == "keys" and isinstance(pvalue, dict):  # required meta: union per layer
            keys = {layer: list(v) for layer, v in pvalue.items()}
            for layer, names in cvalue.items():
                keys[layer] = [
                    *keys.get(layer, []),
                    *(n for n in names if n not in keys.get(layer, [])),
                ]
            out[key] = keys
        elif key in ALLOWED_MAPS and isinstance(pvalue, dict):
            allowed = dict(pvalue)
            for layer, items in cvalue.items():
                extra = [i for i in items if layer in pvalue and i not in pvalue[layer]]
                if extra:
                    m.weakens(
                        where,
                        f"allows {', '.join(map(repr, extra))} in {layer!r}; the parent does not",
                        rel,
                        (name, key, layer),
                    )
                else:
                    allowed[layer] = items
            out[key] = allowed
        elif key == "max" and isinstance(pvalue, int):
            if cvalue > pvalue:
                m.weakens(where, f"max {cvalue} is looser than the parent's {pvalue}", rel, jpath)
            else:
                out[key] = cvalue
        else:
            m.weakens(
                where,
                f"changes {_short(pvalue)} to {_short(cvalue)}; only the parent sets it",
                rel,
                jpath,
            )
    return out


# ---- the whole merge --------------------------------------------------------------------------


def merge_parent(
    parent: Parent, loaded: LoadedManifest, child: dict[str, BaseModel]
) -> dict[str, BaseModel]:
    """The merged models of every tree file but manifest.json; `inherit_weakens` if any loosens."""
    m = _Merge(parent, loaded)
    p = parent.tree
    access = _access(m, p.access_control, _as(child, tree.ACCESS_CONTROL_FILE, tree.AccessControl))
    out: dict[str, BaseModel] = {
        tree.CLASSIFICATION_FILE: _classification(
            m, p.classification, _as(child, tree.CLASSIFICATION_FILE, tree.Classification)
        ),
        tree.ACCESS_CONTROL_FILE: access,
        tree.QUALITY_GATES_FILE: _quality(
            m, p.quality_gates, _as(child, tree.QUALITY_GATES_FILE, tree.QualityGates)
        ),
        tree.NAMESPACES_FILE: _namespaces(
            m, p.namespaces, _as(child, tree.NAMESPACES_FILE, tree.Namespaces), access.roles
        ),
        tree.SCHEMA_REGISTRY_FILE: _schema(
            m, p.schema_registry, _as(child, tree.SCHEMA_REGISTRY_FILE, tree.SchemaRegistry)
        ),
        tree.NAMING_RULES_FILE: _naming(
            m, p.naming_rules, _as(child, tree.NAMING_RULES_FILE, tree.NamingRules)
        ),
        tree.LAYER_CONSTRAINTS_FILE: _layers(
            m, p.layer_constraints, _as(child, tree.LAYER_CONSTRAINTS_FILE, tree.LayerConstraints)
        ),
    }
    names = set(_as(out, tree.NAMESPACES_FILE, tree.Namespaces).namespaces)
    out[tree.CLASSIFICATION_FILE] = _within(
        _as(out, tree.CLASSIFICATION_FILE, tree.Classification), names
    )
    for path, field_name, _model in fam.FAMILY_FILES:
        section = next(s for s, rel in FAMILY_SECTIONS.items() if rel == path)
        parent_family = getattr(p, field_name)
        if not fam.enabled(parent_family):
            parent_family = None
        merged = _family(m, section, parent_family, child.get(path))
        if merged is not None and fam.enabled(merged):
            out[path] = merged
    m.refuse_if_any()
    return out


def _within(policy: tree.Classification, namespaces: set[str]) -> tree.Classification:
    """A namespace the child dropped leaves the forbidden lists (nothing can write there)."""
    rules = {
        level: rule.model_copy(
            update={
                "forbidden_namespaces": [n for n in rule.forbidden_namespaces if n in namespaces]
            }
        )
        for level, rule in policy.rules.items()
    }
    return policy.model_copy(update={"rules": rules})


M = TypeVar("M", bound=BaseModel)


def _as(models: dict[str, BaseModel], rel: str, kind: type[M]) -> M:
    model = models[rel]
    assert isinstance(model, kind)
    return model


def require_signatures(loaded: LoadedManifest, parent: Parent) -> bool:
    """Once the parent requires signed artifacts, so does the child."""
    required = parent.tree.manifest.security.require_signed_artifacts
    child = loaded.model.security.require_signed_artifacts
    path: YamlPath = ("security", "require_signed_artifacts")
    if required and not child and _get(loaded.raw, path) is not None:
        m = _Merge(parent, loaded)
        m.weakens(path, "false is looser than the parent's true", tree.MANIFEST_FILE, path)
        m.refuse_if_any()
    return required or child
