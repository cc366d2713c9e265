"""The course's shampoo protocol as a hand-written PyTorch loop (CPU).

Stateful LSTM(1), batch 4: the hidden state is carried from batch to batch
(detached) and reset every epoch, as Keras' stateful layers do.
Usage: python reader_torch.py REPEATS EPOCHS
"""

from __future__ import annotations

import sys
import time

import torch
from shampoo_data import load_shampoo

torch.set_num_threads(1)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(1, 1, batch_first=True)
        self.head = torch.nn.Linear(1, 1)

    def forward(self, x, state):
        out, state = self.lstm(x, state)
        return self.head(out[:, -1]), state


def main() -> None:
    repeats, epochs = int(sys.argv[1]), int(sys.argv[2])
    X, y, X_all = load_shampoo(batch=4)
    X, y = torch.tensor(X), torch.tensor(y).reshape(-1, 1)
    start = time.perf_counter()
    for r in range(repeats):
        torch.manual_seed(r)
        net = Net()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(epochs):
            state = None
            for i in range(0, len(X), 4):
                pred, state = net(X[i : i + 4], state)
                state = tuple(s.detach() for s in state)
                loss = torch.nn.functional.mse_loss(pred, y[i : i + 4])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            net(torch.tensor(X_all).reshape(-1, 1, 1)[:, :, :], None)
    print(f"{time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    main()
