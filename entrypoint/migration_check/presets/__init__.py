"""Stand-ins for platform schemas, run before the first migration and left out of the comparison."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Preset:
    name: str
    sql_file: str
    # Schemas the preset creates: the project does not own them, so drift there is not reported.
    schemas: tuple[str, ...]

    def sql(self) -> str:
        return resources.files(__package__).joinpath(self.sql_file).read_text(encoding="utf-8")


PRESETS: dict[str, Preset] = {
    "supabase": Preset("supabase", "supabase.sql", ("auth", "extensions")),
}
