"""Pieces shared by builders: the input, the LSTM stack, the output head."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lstmctl.errors import SpecError
from lstmctl.models.registry import Shapes
from lstmctl.spec import ModelSpec


@dataclass
class Graph:
    """A functional graph under construction; ``model()`` closes it."""

    x: Any
    inputs: list[Any]
    state_inputs: list[Any] = field(default_factory=list)
    state_outputs: list[Any] = field(default_factory=list)

    def model(self, output: Any, name: str) -> Any:
        import keras

        if not self.state_inputs:
            return keras.Model(self.inputs, output, name=name)
        return keras.Model(
            [*self.inputs, *self.state_inputs], [output, *self.state_outputs], name=name
        )


def sequence_input(shapes: Shapes) -> Graph:
    """The ``[batch, lookback, n_inputs]`` input, masked when the data has gaps."""
    import keras

    fixed = shapes.batch_size if shapes.state_mode == "native" else None
    inp = keras.Input(
        shape=(shapes.lookback, shapes.n_inputs),
        batch_size=fixed,
        name="window",
    )
    x = inp[:, :, :-1] if shapes.series_embedding is not None else inp
    if shapes.mask_value is not None:
        x = keras.layers.Masking(mask_value=shapes.mask_value, name="masking")(x)
    if shapes.series_embedding is not None:
        x = keras.layers.Concatenate(name="with_series")([x, _series_embedding(inp, shapes)])
    return Graph(x=x, inputs=[inp])


def _series_embedding(inp: Any, shapes: Shapes) -> Any:
    """The learned vector of each window's series, repeated at every input step.

    The series' index rides in the input's last column (the same on every
    step); one Embedding maps it to ``size`` values the LSTM reads beside
    the features, so one global model can still tell the series apart.
    """
    import keras

    assert shapes.series_embedding is not None
    n_series, size = shapes.series_embedding
    ids = keras.ops.cast(inp[:, 0, -1], "int32")
    vector = keras.layers.Embedding(n_series, size, name="series_embedding")(ids)
    return keras.layers.RepeatVector(shapes.lookback, name="series_embedding_steps")(vector)


def units_per_layer(spec: ModelSpec, default_layers: int) -> list[int]:
    """``units: 4`` with ``layers: N`` (or the builder's default), or an explicit list."""
    if isinstance(spec.units, list):
        if spec.layers is not None and spec.layers != len(spec.units):
            raise SpecError(
                f"model.layers is {spec.layers} but model.units lists {len(spec.units)} sizes",
                where="model.layers",
            )
        if not spec.units:
            raise SpecError("expected at least one layer size, found []", where="model.units")
        return list(spec.units)
    return [spec.units] * (spec.layers or default_layers)


def lstm_stack(
    graph: Graph,
    units: list[int],
    spec: ModelSpec,
    shapes: Shapes,
    last_returns_sequences: bool = False,
) -> Any:
    """LSTM layers in sequence; all but the last (by default) return sequences."""
    import keras

    x = graph.x
    stateful = spec.stateful
    for i, n in enumerate(units):
        seqs = last_returns_sequences or i < len(units) - 1
        layer = keras.layers.LSTM(
            n,
            activation=spec.activation,
            dropout=spec.dropout,
            recurrent_dropout=spec.recurrent_dropout,
            return_sequences=seqs,
            stateful=stateful and shapes.state_mode == "native",
            return_state=stateful and shapes.state_mode == "explicit",
            name=f"lstm_{i + 1}",
        )
        if stateful and shapes.state_mode == "explicit":
            h0 = keras.Input(shape=(n,), name=f"lstm_{i + 1}_h")
            c0 = keras.Input(shape=(n,), name=f"lstm_{i + 1}_c")
            x, h, c = layer(x, initial_state=[h0, c0])
            graph.state_inputs += [h0, c0]
            graph.state_outputs += [h, c]
        else:
            x = layer(x)
    graph.x = x
    return x


def dense_head(graph: Graph, spec: ModelSpec, shapes: Shapes) -> Any:
    """Dense to ``horizon * n_targets`` values, shaped ``[batch, horizon, n_targets]``."""
    import keras

    if spec.output_activation == "softmax" and shapes.horizon > 1:
        # Softmax over each step's classes, not over all steps at once.
        y = keras.layers.Dense(shapes.horizon * shapes.n_targets, name="head")(graph.x)
        y = keras.layers.Reshape((shapes.horizon, shapes.n_targets), name="forecast")(y)
        return keras.layers.Activation("softmax", name="probabilities")(y)
    y = keras.layers.Dense(
        shapes.horizon * shapes.n_targets, activation=spec.output_activation, name="head"
    )(graph.x)
    return keras.layers.Reshape((shapes.horizon, shapes.n_targets), name="forecast")(y)
