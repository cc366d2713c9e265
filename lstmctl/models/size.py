"""How many weights an architecture has, counted from the spec without building it.

Building a model to count its weights would import Keras and allocate them,
which is what a model too big to fit must not do; so each architecture may
register a ``parameters(spec, shapes) -> int`` beside its builder (the
default counts an LSTM stack and a Dense head). The counts are the big
layers' weights (LSTM, Dense, convolution, embedding); small layers may be
left out, so a count is never more than Keras would make.
"""

from __future__ import annotations

import math

from lstmctl.models.registry import Shapes, get_parameters
from lstmctl.spec import ModelSpec


def parameter_count(spec: ModelSpec, shapes: Shapes) -> int:
    """About how many weights ``spec.arch`` has on data of these ``shapes``."""
    count = get_parameters(spec.arch) or default_parameters
    return count(spec, shapes)


def default_parameters(spec: ModelSpec, shapes: Shapes, default_layers: int = 1) -> int:
    """An LSTM stack on the input steps and a Dense head."""
    weights, width = stack(input_width(shapes), spec, default_layers)
    return weights + head(width, shapes)


def input_width(shapes: Shapes) -> int:
    """Values in one input step: an image frame's pixels, else ``n_inputs``."""
    return math.prod(shapes.step_shape) if shapes.step_shape else shapes.n_inputs


def lstm(n_in: int, units: int) -> int:
    """An LSTM layer: four gates, each with input, recurrent and bias weights."""
    return 4 * units * (n_in + units + 1)


def dense(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def stack(
    n_in: int, spec: ModelSpec, default_layers: int, directions: int = 1, concat: bool = False
) -> tuple[int, int]:
    """Weights of ``model.units`` LSTM layers read in ``directions``, and the last one's width.

    ``units: N`` with ``layers: L`` is counted without listing the L layers,
    so an absurd ``layers`` costs nothing here.
    """
    if isinstance(spec.units, list):
        sizes = [(u, 1) for u in spec.units]
    else:
        sizes = [(spec.units, spec.layers or default_layers)]
    weights, width = 0, n_in
    for units, count in sizes:
        out = units * directions if concat else units
        weights += directions * (lstm(width, units) + (count - 1) * lstm(out, units))
        width = out
    return weights, width


def head(width: int, shapes: Shapes) -> int:
    """The Dense output: per step (sequence labelling), else ``horizon`` steps at once."""
    if shapes.per_step:
        return dense(width, shapes.n_targets)
    return dense(width, shapes.horizon * shapes.n_targets)
