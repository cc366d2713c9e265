"""The experiment spec, the bottom layer: schema, YAML loading, validation and its
messages, the name vocabularies, the tune-space grammar and the derived specs
(:mod:`lstmctl.spec.derive`).

``load_spec(path, overrides)`` is the only place YAML is read; everything
downstream receives a :class:`Spec`. Nothing here imports another lstmctl
layer (only the ground floor: errors).
"""

from lstmctl.spec.base import MAX_SEED
from lstmctl.spec.derive import apply_override
from lstmctl.spec.evaluate_schema import (
    EvaluateSpec,
    Metric,
    TrackingSpec,
    UpdateScheme,
    UpdateSpec,
)
from lstmctl.spec.loading import load_spec, validate_spec
from lstmctl.spec.messages import validate_raw
from lstmctl.spec.schema import (
    DataSpec,
    EarlyStoppingSpec,
    ModelSpec,
    ScaleSpec,
    Spec,
    SplitSpec,
    TrainSpec,
    TransformSpec,
    WindowSpec,
)
from lstmctl.spec.yaml_text import parse_yaml

__all__ = [
    "MAX_SEED",
    "DataSpec",
    "EarlyStoppingSpec",
    "EvaluateSpec",
    "Metric",
    "ModelSpec",
    "ScaleSpec",
    "Spec",
    "SplitSpec",
    "TrackingSpec",
    "TrainSpec",
    "TransformSpec",
    "UpdateScheme",
    "UpdateSpec",
    "WindowSpec",
    "apply_override",
    "load_spec",
    "parse_yaml",
    "validate_raw",
    "validate_spec",
]
