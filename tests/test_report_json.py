"""Reports' JSON writer: byte for byte what json.dumps(indent=2, sort_keys=True) writes."""

from __future__ import annotations

import json
import random
from enum import IntEnum
from typing import Any

import pytest

from floe.project.report import dumps_json


def _reference(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _random(rng: random.Random, depth: int = 0) -> Any:
    leaves = [
        None,
        True,
        False,
        0,
        -7,
        2**70,
        1.5,
        -0.0,
        1e300,
        float("nan"),
        float("inf"),
        -float("inf"),
        "",
        'q"uote\\ \n\t\x00 é ✓ \U0001f600 \u2028',
    ]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(leaves)
    if rng.random() < 0.5:
        return [_random(rng, depth + 1) for _ in range(rng.randrange(4))]
    if rng.random() < 0.2:
        return tuple(_random(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {f"k{rng.randrange(9)}é": _random(rng, depth + 1) for _ in range(rng.randrange(5))}


@pytest.mark.parametrize("seed", range(300))
def test_same_bytes_as_json_dumps(seed: int) -> None:
    document = _random(random.Random(seed))
    assert dumps_json(document) == _reference(document)


class Level(IntEnum):
    HIGH = 2


@pytest.mark.parametrize(
    "document",
    [
        {1: "int key", 2: [{}]},
        {None: 1},
        {True: 2, 3: 4},
        {"level": Level.HIGH},
        {"nested": {"x": [1, {2.5: "float key"}]}},
    ],
)
def test_unusual_values_are_written_as_json_dumps_writes_them(document: Any) -> None:
    assert dumps_json(document) == _reference(document)


def test_what_json_refuses_is_still_refused() -> None:
    with pytest.raises(TypeError):
        dumps_json({"when": object()})
    with pytest.raises(TypeError):
        dumps_json({1: "a", "b": 2})  # keys json.dumps cannot sort either
