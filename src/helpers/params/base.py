"""What every section of the params schema shares: strict models and the common value types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
Year = Annotated[int, Field(ge=1950, le=2100)]


class StrictModel(BaseModel):
    """Base of every params section: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
