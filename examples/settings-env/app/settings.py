"""Settings from the environment, read once at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    debug: bool = False

    @classmethod
    def from_environment(cls) -> Settings:
        missing = [name for name in ("APP_DATABASE_URL", "APP_SECRET_KEY") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"missing required settings: {', '.join(missing)} (set them in the environment)")
        return cls(
            database_url=os.environ["APP_DATABASE_URL"],
            secret_key=os.environ["APP_SECRET_KEY"],
            debug=os.environ.get("APP_DEBUG", "") == "1",
        )


settings = Settings.from_environment()
