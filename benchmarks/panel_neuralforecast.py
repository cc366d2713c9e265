"""NeuralForecast's LSTM on the synthetic panel (`make bench`, optional contender).

Usage: panel_neuralforecast.py SERIES STEPS LOOKBACK UNITS STEPS_TO_RUN. Fits one
global LSTM (one layer of UNITS, a one-layer decoder, standard scaling per
series, 32 windows per optimizer step as lstmctl's batch) for STEPS_TO_RUN
optimizer steps and prints ``{"seconds": ..., "steps": ...}``; the bench scales
that to lstmctl's optimizer steps. Without ``neuralforecast`` installed it
prints ``{"skipped": why}`` and exits 0: the contender is optional.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from panel_prepare import synthetic_table


def main() -> None:
    n_series, steps, lookback, units, max_steps = (int(a) for a in sys.argv[1:6])
    try:
        import pandas as pd
        from neuralforecast import NeuralForecast
        from neuralforecast.models import LSTM
    except ImportError as e:
        why = f"{e.name} not installed (neuralforecast needs torch, lightning and ray)"
        print(json.dumps({"skipped": why}))
        return
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    table = synthetic_table(n_series, steps)
    df = pd.DataFrame(
        {
            "unique_id": table["series"],
            "ds": pd.PeriodIndex(table["month"], freq="M").to_timestamp(),
            "y": table["y"],
        }
    )
    model = LSTM(
        h=1,
        input_size=lookback,
        encoder_n_layers=1,
        encoder_hidden_size=units,
        decoder_hidden_size=units,
        decoder_layers=1,
        max_steps=max_steps,
        batch_size=32,
        windows_batch_size=32,
        scaler_type="standard",
        val_check_steps=max_steps + 1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        accelerator="cpu",
    )
    nf = NeuralForecast(models=[model], freq="MS")
    start = time.perf_counter()
    nf.fit(df=df)
    print(json.dumps({"seconds": time.perf_counter() - start, "steps": max_steps}))


if __name__ == "__main__":
    main()
