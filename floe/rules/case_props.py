"""Catalogue properties in `floe platform test` case files (models, exposures, sources).

models:
  - name: gold_revenue
    layer: gold
    access: public                      # group, tags, unique_key, latest_version,
    contract: {enforced: true}          # versions, deprecation_date as in dbt YAML
    constraints: [{type: primary_key, columns: [revenue_id]}]
    columns:
      - {name: revenue_id, data_type: int, constraints: [{type: not_null}]}
    sql: select revenue_id from {{ ref('silver_revenue') }}
    sql_file: models/gold/gold_revenue.sql   # for structure rules (optional)
exposures:
  - {name: revenue_dashboard, depends_on: [gold_revenue]}
sources:
  - {name: crm.customers, freshness: true, loader: fivetran, description: CRM}
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath
from typing import Any

from floe.errors import UsageError
from floe.rules.model import Model, Source
from floe.rules.props import Exposure
from floe.rules.props_reader import props_from_files
from floe.rules.yaml_lines import LinedYaml

SLUG = "policy_test_invalid"


def with_case_props(model: Model, item: dict[str, Any]) -> Model:
    """The case model with its catalogue properties (and `sql_file`, when given)."""
    sql = item.get("sql")
    props = props_from_files(item, item, sql if isinstance(sql, str) else "")
    props = dataclasses.replace(props, sql=sql if isinstance(sql, str) else None)
    sql_file = item.get("sql_file")
    if not isinstance(sql_file, str) or not sql_file:
        return dataclasses.replace(model, props=props)
    folders = PurePosixPath(sql_file).parts[1:-1]
    return dataclasses.replace(model, props=props, sql_file=sql_file, folders=tuple(folders))


def case_extras(case: dict[str, Any], doc: LinedYaml, display: str) -> dict[str, Any]:
    """`exposures` and `sources` of a case, as Project keyword arguments."""
    exposures = []
    for item in _items(case, "exposures", display, doc):
        depends = item.get("depends_on") or []
        exposures.append(
            Exposure(str(item["name"]), display, doc.line(item), tuple(map(str, depends)))
        )
    sources = {}
    for item in _items(case, "sources", display, doc):
        name = str(item["name"])
        sources[name] = Source(
            name,
            display,
            doc.line(item),
            freshness=item.get("freshness") is True,
            description=item.get("description"),
            loader=item.get("loader"),
        )
    return {"exposures": tuple(exposures), "sources": sources}


def _items(case: dict[str, Any], key: str, display: str, doc: LinedYaml) -> list[dict[str, Any]]:
    value = case.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in value
    ):
        raise UsageError(
            SLUG, f"{display}:{doc.line(case)}: `{key}:` must list entries with a name"
        )
    return value
