"""Python client of the implicit-prm service (standard library only)."""
from .client import AGGREGATES, PrmClient, PrmError
from .rl import place_step_rewards, split_steps

__all__ = ["AGGREGATES", "PrmClient", "PrmError", "place_step_rewards", "split_steps"]
__version__ = "0.1.0"
