"""Exponential backoff with jitter for reconnects."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float = 0.05, maximum: float = 5.0) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial, self.maximum = initial, maximum
        self._next = initial

    def next(self) -> float:
        d = self._next
        self._next = min(self.maximum, self._next * 2)
        return d * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self._next = self.initial
