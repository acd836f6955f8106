from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base of every value object passed between packages: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
