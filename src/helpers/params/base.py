"""What every section of the params schema shares: strict models and the common value types."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
Year = Annotated[int, Field(ge=1950, le=2100)]


class StrictModel(BaseModel):
    """Base of every params section: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def repeated(values: Sequence[Hashable]) -> list[Hashable]:
    """The values that occur more than once in ``values``, in order of first occurrence."""
    seen: set[Hashable] = set()
    twice: dict[Hashable, None] = {}
    for value in values:
        if value in seen:
            twice[value] = None
        seen.add(value)
    return list(twice)
