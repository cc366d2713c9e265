"""Lesson 6's stacked LSTM on damped sine waves, written as a reader would.

Usage: python reader_damped.py keras|torch REPEATS EPOCHS
Data as in the lesson: 10,000 series of 50 steps in, the next 5 out; a
stacked 2 x LSTM(20) with a Dense(5) head, Adam, MAE loss, batch 10.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def damped_sines(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(55)
    period = rng.integers(10, 21, size=(n, 1))
    decay = rng.uniform(0.01, 0.1, size=(n, 1))
    s = 0.5 + 0.5 * np.sin(2 * math.pi * i / period) * np.exp(-decay * i)
    return s[:, :50, None].astype("float32"), s[:, 50:].astype("float32")


def keras_fit(X: np.ndarray, y: np.ndarray, repeats: int, epochs: int) -> None:
    import keras

    for r in range(repeats):
        keras.utils.set_random_seed(r)
        model = keras.Sequential(
            [
                keras.Input((50, 1)),
                keras.layers.LSTM(20, return_sequences=True),
                keras.layers.LSTM(20),
                keras.layers.Dense(5),
            ]
        )
        model.compile(loss="mae", optimizer="adam")
        model.fit(X, y, epochs=epochs, batch_size=10, verbose=0)


def torch_fit(X: np.ndarray, y: np.ndarray, repeats: int, epochs: int) -> None:
    import torch

    torch.set_num_threads(1)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for r in range(repeats):
        torch.manual_seed(r)
        l1 = torch.nn.LSTM(1, 20, batch_first=True)
        l2 = torch.nn.LSTM(20, 20, batch_first=True)
        head = torch.nn.Linear(20, 5)
        params = [*l1.parameters(), *l2.parameters(), *head.parameters()]
        opt = torch.optim.Adam(params, lr=1e-3)
        for _ in range(epochs):
            order = torch.randperm(len(Xt))
            for i in range(0, len(Xt), 10):
                idx = order[i : i + 10]
                h, _ = l1(Xt[idx])
                h, _ = l2(h)
                loss = torch.nn.functional.l1_loss(head(h[:, -1]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()


def main() -> None:
    which, repeats, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    X, y = damped_sines(10_000, np.random.default_rng(0))
    start = time.perf_counter()
    (keras_fit if which == "keras" else torch_fit)(X, y, repeats, epochs)
    print(f"{time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    main()
