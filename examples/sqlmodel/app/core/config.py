"""Settings from the environment, as FastAPI services keep them: the database URL is built from its parts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


@dataclass(frozen=True)
class Settings:
    postgres_server: str = field(default_factory=lambda: _required("POSTGRES_SERVER"))
    postgres_port: int = field(default_factory=lambda: int(os.environ.get("POSTGRES_PORT", "5432")))
    postgres_user: str = field(default_factory=lambda: _required("POSTGRES_USER"))
    postgres_password: str = field(default_factory=lambda: os.environ.get("POSTGRES_PASSWORD", ""))
    postgres_db: str = field(default_factory=lambda: _required("POSTGRES_DB"))
    secret_key: str = field(default_factory=lambda: _required("SECRET_KEY"))

    @property
    def sqlalchemy_database_uri(self) -> str:
        password = f":{self.postgres_password}" if self.postgres_password else ""
        return (f"postgresql+psycopg://{self.postgres_user}{password}@{self.postgres_server}:{self.postgres_port}"
                f"/{self.postgres_db}")


settings = Settings()
