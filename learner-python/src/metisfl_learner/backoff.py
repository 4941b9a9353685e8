"""Exponential backoff with jitter, as the Java learner's."""


class Backoff:
    """Attempt n waits a random time between half and all of min(max, initial * 2^(n-1)) seconds,
    so learners that lost the same gateway do not all come back at the same instant."""

    def __init__(self, initial: float, maximum: float, random):
        if initial <= 0 or maximum < initial:
            raise ValueError(
                "backoff needs 0 < initial <= maximum, got initial=%r maximum=%r" % (initial, maximum)
            )
        self.initial = initial
        self.maximum = maximum
        self._random = random

    def delay(self, attempt: int) -> float:
        base = self.initial
        for _ in range(1, max(1, attempt)):
            if base >= self.maximum:
                break
            base *= 2
        base = min(base, self.maximum)
        half = base / 2
        return half + self._random() * (base - half)
