"""The one numpy -> JSON conversion (``motioneval._io.json_default`` / ``jsonable``)."""
from __future__ import annotations

import json
import math
from pathlib import PurePosixPath

import numpy as np
import pytest

from motioneval._io import json_default, json_float, jsonable


def test_json_default_converts_numpy_paths_sets_and_tuples():
    obj = {"a": np.float32(0.5), "b": np.arange(3), "c": PurePosixPath("x/y"), "d": {3, 1, 2}, "e": (1, 2),
           "f": np.int64(7), "g": frozenset({"b", "a"})}
    out = json.loads(json.dumps(obj, default=json_default, sort_keys=True))
    assert out == {"a": 0.5, "b": [0, 1, 2], "c": "x/y", "d": [1, 2, 3], "e": [1, 2], "f": 7, "g": ["a", "b"]}
    assert json.dumps({1, "a"}, default=json_default) in ('[1, "a"]', '["a", 1]')  # unorderable: still JSON
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        json.dumps(object(), default=json_default)


def test_jsonable_is_strict_json():
    out = jsonable({1: [np.float64("nan"), np.inf, -np.inf, np.float32(2.5)], "b": (np.bool_(True), np.int8(3)),
                    "c": np.array([[1.0, np.nan]]), "d": "text"})
    assert out == {"1": ["nan", "inf", "-inf", 2.5], "b": [True, 3], "c": [[1.0, "nan"]], "d": "text"}
    json.dumps(out, allow_nan=False)  # no NaN/Infinity tokens left
    assert json_float(3) == 3.0 and isinstance(json_float(3), float) and math.isnan(float(json_float(math.nan)))
