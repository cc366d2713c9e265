"""The course's shampoo loop as a reader writes it: Keras on TensorFlow.

One stateful LSTM per repeat, `fit` one epoch at a time with `reset_states`
between epochs (the book's code), then a walk-forward forecast.
Usage: python reader_keras.py REPEATS EPOCHS
"""

from __future__ import annotations

import os
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402, TID253
from shampoo_data import load_shampoo  # noqa: E402


def main() -> None:
    repeats, epochs = int(sys.argv[1]), int(sys.argv[2])
    X, y, X_all = load_shampoo(batch=4)
    start = time.perf_counter()
    for r in range(repeats):
        keras.utils.set_random_seed(r)
        model = keras.Sequential(
            [
                keras.Input(batch_shape=(4, 1, 1)),
                keras.layers.LSTM(1, stateful=True),
                keras.layers.Dense(1),
            ]
        )
        model.compile(loss="mean_squared_error", optimizer="adam")
        for _ in range(epochs):
            model.fit(X, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
            for layer in model.layers:
                if getattr(layer, "stateful", False):
                    layer.reset_state()
        model.predict(X_all[: len(X_all) // 4 * 4], batch_size=4, verbose=0)
    print(f"{time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    main()
