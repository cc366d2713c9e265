"""Starter specs for ``lstmctl init ARCH``: commented, valid, runnable."""

from __future__ import annotations

from lstmctl.errors import UsageError

_COMMON = """\
# lstmctl spec: `lstmctl run THIS.yaml`; check it with `lstmctl validate THIS.yaml`,
# see every default with `lstmctl show-config THIS.yaml`.
name: {name}
seed: 1                       # repeat i is seeded with seed + i
backend: auto                 # auto: compiled JAX trainer; tensorflow: plain Keras fit

data:
  path: datasets/airline-passengers.csv   # a CSV file
  time: Month                 # time column (parsed when it can be, else kept as labels)
  target: Passengers          # column(s) to forecast
  features: []                # extra input columns; list categorical ones under categorical:
  missing: interpolate        # drop | ffill | interpolate | mask
  transforms: [difference]    # difference (lag: N), log - undone before scoring
  scale: {{kind: minmax, range: [-1, 1]}}   # minmax | standard | none, fitted on train only
  window: {{lookback: {lookback}, horizon: 1}}   # steps in -> steps out
  split: {{test: 0.33, validation: 0}}       # last rows (int) or fraction for test

model:
  arch: {arch}
{model}
train:
  epochs: 50
  batch_size: 16
  optimizer: adam             # by name; learning_rate: 0.001 to set it
  loss: mse
  # early_stopping: {{monitor: val_loss, patience: 10}}   # needs split.validation

evaluate:
  repeats: 10                 # LSTMs are stochastic: judge the distribution
  metrics: [rmse, mae]
  baseline: persistence       # the naive forecast every model must beat
"""

_MODELS = {
    "vanilla": (
        "  units: 8                    # LSTM units\n"
        "  dropout: 0.0\n"
        "  recurrent_dropout: 0.0\n"
        "  stateful: false            # true: state carried across batches, reset every epoch\n",
        4,
    ),
    "stacked": (
        "  units: [16, 8]              # one size per LSTM layer (or units: 8 with layers: 2)\n"
        "  dropout: 0.0\n"
        "  stateful: false\n",
        12,
    ),
    "cnn_lstm": (
        "  subsequences: 2             # the window cut in 2, each part read by the CNN\n"
        "  filters: 16                 # the Conv1D over each subsequence\n"
        "  kernel_size: 2\n"
        "  pool_size: 2\n"
        "  units: 8                    # the LSTM reading the subsequences' features\n",
        12,
    ),
    "encoder_decoder": (
        "  units: 16                   # encoder LSTM (a list stacks it)\n"
        "  decoder_units: 16           # decoder LSTM, one output step per horizon step\n",
        12,
    ),
    "bidirectional": (
        "  units: 8\n"
        "  direction: both             # forward | backward | both\n"
        "  merge_mode: concat          # concat | sum | mul | ave (direction: both)\n",
        12,
    ),
    "attention": (
        "  units: 16                   # encoder and decoder LSTM\n"
        "  attention: dot              # dot (Luong) | additive (Bahdanau)\n",
        12,
    ),
}


def starter_spec(arch: str) -> str:
    """A commented starter spec for an architecture."""
    from lstmctl.models.registry import architectures

    known = architectures()
    if arch not in known:
        raise UsageError(f"unknown architecture {arch!r}; known: {', '.join(known)}", where="init")
    model, lookback = _MODELS.get(arch, ("  units: 8\n", 4))
    return _COMMON.format(name=f"airline-{arch}", arch=arch, model=model, lookback=lookback)
