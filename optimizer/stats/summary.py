"""Per-arm summary statistics: the input of every test in this package.

Like gbstats' statistic objects: a few sums that can be added, nothing per user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optimizer.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """One arm: sends, successes (binary metric), and sums of a continuous value per send."""

    name: str
    sends: int
    successes: int = 0
    value_sum: float = 0.0
    value_sum_sq: float = 0.0

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInput("arm name is empty (a name such as 'A' expected)", field="name")
        if self.sends < 0:
            raise InvalidInput(f"arm {self.name!r}: sends {self.sends} is negative", field="sends")
        if self.successes < 0:
            raise InvalidInput(
                f"arm {self.name!r}: successes {self.successes} is negative", field="successes"
            )
        if self.successes > self.sends:
            raise InvalidInput(
                f"arm {self.name!r}: successes {self.successes} exceed sends {self.sends}",
                field="successes",
            )
        if not (math.isfinite(self.value_sum) and math.isfinite(self.value_sum_sq)):
            raise InvalidInput(f"arm {self.name!r}: value sums must be finite", field="value_sum")
        if self.value_sum_sq < 0:
            raise InvalidInput(
                f"arm {self.name!r}: sum of squares {self.value_sum_sq} is negative",
                field="value_sum_sq",
            )

    def __add__(self, other: ArmSummary) -> ArmSummary:
        return ArmSummary(
            self.name,
            self.sends + other.sends,
            self.successes + other.successes,
            self.value_sum + other.value_sum,
            self.value_sum_sq + other.value_sum_sq,
        )

    @property
    def rate(self) -> float:
        return self.successes / self.sends if self.sends else 0.0

    @property
    def mean(self) -> float:
        return self.value_sum / self.sends if self.sends else 0.0

    @property
    def variance(self) -> float:
        """Sample variance of the value per send (0 with fewer than 2 sends)."""
        if self.sends < 2:
            return 0.0
        centred = self.value_sum_sq - self.sends * self.mean**2
        return max(centred, 0.0) / (self.sends - 1)


def check_arms(arms: list[ArmSummary] | tuple[ArmSummary, ...]) -> None:
    """At least two arms with distinct names."""
    if len(arms) < 2:
        raise InvalidInput(f"{len(arms)} arm(s) given: at least 2 expected", field="arms")
    names = [a.name for a in arms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"arm name(s) {', '.join(duplicates)} given twice", field="arms")
