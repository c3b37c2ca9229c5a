"""What one audit run reads: the project's configuration (as the check's), and the live databases to audit,
named, from --database-url NAME=URL flags or a databases file, and the shard of them this job takes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from migration_check import redact
from migration_check.config import CheckConfig
from migration_check.config_file import NodeReader
from migration_check.errors import UsageError

DEFAULT_CONCURRENCY = 4
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_NAMED_URL = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,62})=(?P<url>[A-Za-z][A-Za-z0-9+.-]*://.*)$", re.S)


@dataclass(frozen=True)
class LiveTarget:
    """One live database. Its name is what every output shows; the URL is a secret and is never printed."""

    name: str
    url: str
    where: str  # where it was given, for messages: "--database-url 2", "databases.yml:4"


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as a matrix's values are written
    count: int

    def picks(self, position: int) -> bool:
        """Every count-th database of the list, starting at index (positions from 0)."""
        return position % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class AuditConfig:
    check: CheckConfig  # the project, its settings and the outputs, as the check reads them
    targets: tuple[LiveTarget, ...]  # this shard's
    listed: int  # databases in the whole list, before sharding
    shard: Shard | None = None
    concurrency: int = DEFAULT_CONCURRENCY


def parse_shard(text: str | None) -> Shard | None:
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(f"--shard {text!r} is not I/N with 1 <= I <= N.",
                         fix="Write the job's shard as I/N, for example --shard ${{ matrix.shard }}/4 with shard: "
                         "[1, 2, 3, 4].")
    return Shard(int(match[1]), int(match[2]))


def _checked_url(url: str, where: str) -> str:
    try:
        parsed = make_url(url)
    except Exception:
        raise UsageError(f"{where} is not a database URL.",
                         fix="Write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE (or NAME=URL).") from None
    if not parsed.drivername.startswith("postgresql"):
        raise UsageError(f"{where} names a {parsed.drivername} database; the audit reads PostgreSQL.",
                         fix="Give a postgresql:// URL.")
    return url


def _default_name(url: str, taken: set[str]) -> str:
    """A database given without a name is shown by its database name: never by its URL or host."""
    base = make_url(url).database or "database"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


def targets_from_flags(values: list[str]) -> list[LiveTarget]:
    """--database-url URL or NAME=URL, repeatable; a value may hold several, one per line (an Action input)."""
    targets: list[LiveTarget] = []
    lines = [line.strip() for value in values for line in value.splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        where = f"--database-url {number}" if len(lines) > 1 else "--database-url"
        named = _NAMED_URL.match(line)
        name, url = (named["name"], named["url"]) if named else (None, line)
        _checked_url(url, where)
        targets.append(LiveTarget(name or _default_name(url, {t.name for t in targets}), url, where))
    return targets


def targets_from_file(path: Path) -> list[LiveTarget]:
    """A databases file: a list of {name, url} or {name, url-env} (the variable that holds the URL, so that the
    file can be committed), or a mapping with a `databases:` list."""
    shown = str(path)
    reader = NodeReader(path, shown)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except OSError as exc:
        raise UsageError(f"Cannot read {shown}: {exc.strerror or exc}", fix="Pass a readable databases file.",
                         file=path) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise UsageError(f"Not valid YAML: {exc.problem or exc}", fix="Fix the YAML syntax.", file=path,
                         line=mark.line + 1 if mark else None) from None
    if isinstance(root, yaml.MappingNode):
        root = next((value for key, _k, value in reader.mapping(root, "the file", ("databases",))
                     if key == "databases"), None)
    if not isinstance(root, yaml.SequenceNode) or not root.value:
        raise reader.fail(root, "the databases file lists no databases.",
                          "Write a list: `- {name: production, url-env: PRODUCTION_DATABASE_URL}`.")
    targets: list[LiveTarget] = []
    for item in root.value:
        fields = {key: value for key, _k, value in reader.mapping(item, "a database", ("name", "url", "url-env"))}
        where = f"{shown}:{item.start_mark.line + 1}"
        if "name" not in fields:
            raise reader.fail(item, "this database has no `name`.",
                              "Give each database a name: the reports show it instead of the URL.")
        name = reader.text(fields["name"], "name")
        if not _NAME.match(name):
            raise reader.fail(fields["name"], f"the name {name!r} has characters a report cannot show as is.",
                              "Use letters, digits, dots, dashes and underscores.")
        if name in {t.name for t in targets}:
            raise reader.fail(fields["name"], f"two databases are called {name!r}.", "Give each a name of its own.")
        if ("url" in fields) == ("url-env" in fields):
            raise reader.fail(item, f"database {name!r} needs either `url` or `url-env`.",
                              "Prefer `url-env: VARIABLE`, the environment variable that holds the URL.")
        if "url-env" in fields:
            variable = reader.text(fields["url-env"], "url-env")
            url = os.environ.get(variable, "")
            if not url:
                raise reader.fail(fields["url-env"], f"the environment variable {variable} (the URL of database "
                                  f"{name!r}) is not set.",
                                  f"Set {variable} in the job's env (from a secret: "
                                  f"{variable}: ${{{{ secrets.{variable} }}}}).")
        else:
            url = reader.text(fields["url"], "url")
        redact.register(url)
        _checked_url(url, f"The url of database {name!r} ({where})")
        targets.append(LiveTarget(name, url, where))
    return targets


def secret_forms(value: str) -> set[str]:
    """Mask a database URL (or NAME=URL) whole, its password and its host: none of them is ever shown."""
    named = _NAMED_URL.match(value)
    url = named["url"] if named else value
    forms = redact.register(url) | redact.register_url(url)
    try:
        host = make_url(url).host
    except Exception:  # not a URL: masked whole above
        return forms
    return forms | redact.register(host)


def register_secrets(targets: list[LiveTarget]) -> set[str]:
    forms: set[str] = set()
    for target in targets:
        forms |= secret_forms(target.url)
    return forms


def choose(targets: list[LiveTarget], shard: Shard | None) -> tuple[LiveTarget, ...]:
    if shard is None:
        return tuple(targets)
    return tuple(target for position, target in enumerate(targets) if shard.picks(position))


def audit_config(check: CheckConfig, urls: list[str], databases_file: Path | None, shard_text: str | None,
                 concurrency: int = DEFAULT_CONCURRENCY) -> tuple[AuditConfig, set[str]]:
    """The audit's configuration from the command line's flags or the Action's inputs, and the spellings of the
    secrets it holds (masked from now on; the Action also has the runner mask them)."""
    if concurrency < 1:
        raise UsageError(f"--concurrency {concurrency} is not a number of databases.", fix="Pass 1 or more.")
    shard = parse_shard(shard_text)
    listed = [*targets_from_flags(urls), *(targets_from_file(databases_file) if databases_file else [])]
    secrets = register_secrets(listed)
    if not listed:
        raise UsageError("The audit was given no database.",
                         fix="Pass --database-url NAME=URL (repeatable) or --databases FILE; in the Action, "
                         "`database-url` (NAME=URL lines, from secrets) or `databases-file`.")
    return AuditConfig(check=check, targets=choose(listed, shard), listed=len(listed), shard=shard,
                       concurrency=concurrency), secrets
