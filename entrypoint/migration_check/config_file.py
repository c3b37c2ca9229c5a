""".migration-check.yml: the project's own settings, read strictly with PyYAML.

The file is read node by node (yaml.compose), not as plain data, so that every complaint names the line it is
about. Unknown keys, wrong types, duplicate keys and allowlist entries without a reason are errors, exit 2.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from migration_check.errors import UsageError
from migration_check.findings import Severity

DEFAULT_NAME = ".migration-check.yml"
RULE_LEVELS = ("error", "warning", "notice", "off")
NAMING_KEYS = ("ix", "uq", "ck", "fk", "pk")
ROUNDTRIP_CHOICES = ("auto", "changed", "full", "off")
PRESET_CHOICES = ("supabase",)


@dataclass(frozen=True)
class AllowEntry:
    """One reviewed exception: findings of `rule` whose details (or file, revision) equal every `match` value."""

    rule: str
    match: tuple[tuple[str, str], ...]
    reason: str
    expires: datetime.date | None
    file: str  # where the entry is written, for messages: ".migration-check.yml"
    line: int

    def matches(self, rule: str, fields: dict[str, Any]) -> bool:
        return rule == self.rule and all(_field_matches(fields.get(key), value) for key, value in self.match)

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and self.expires < today

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _field_matches(actual: Any, wanted: str) -> bool:
    """A list (such as columns) matches one of its items, or all of them written with commas."""
    if isinstance(actual, (list, tuple)):
        items = [str(item) for item in actual]
        return wanted in items or wanted.replace(" ", "") == ",".join(items)
    if isinstance(actual, bool):
        return wanted.lower() == str(actual).lower()
    return actual is not None and str(actual) == wanted


@dataclass(frozen=True)
class FileSettings:
    path: Path
    rules: dict[str, Severity | None] = field(default_factory=dict)  # None: off
    naming: dict[str, str] = field(default_factory=dict)
    roundtrip: str | None = None
    setup_sql: tuple[Path, ...] = ()
    preset: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    url_env: tuple[str, ...] = ()
    url_parts: tuple[str, ...] = ()  # prefixes, as --url-parts
    exclude_schemas: tuple[str, ...] = ()
    allow: tuple[AllowEntry, ...] = ()
    # data-volume: {default: ROWS | off, tables: {name: ROWS}, lock-threshold-ms: MS, slow-migration-ms: MS}
    volume_rows: int | None = None
    volume_tables: tuple[tuple[str, int], ...] = ()
    lock_threshold_ms: int | None = None
    slow_migration_ms: int | None = None
    volume_fill: str | None = None  # touched | all


class NodeReader:
    def __init__(self, path: Path, shown: str) -> None:
        self.path = path
        self.shown = shown  # the path as messages show it

    def fail(self, node: yaml.Node | None, message: str, fix: str) -> UsageError:
        line = node.start_mark.line + 1 if node is not None else None
        return UsageError(message, fix=fix, file=self.path, line=line)

    def mapping(self, node: yaml.Node, what: str,
                keys: tuple[str, ...] | None) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of keys to values.",
                            f"Write {what} as `key: value` lines.")
        seen: set[str] = set()
        items = []
        for key_node, value_node in node.value:
            key = self.scalar(key_node, f"a key of {what}")
            if key in seen:
                raise self.fail(key_node, f"{what} has `{key}` twice.", "Keep one of them.")
            if keys is not None and key not in keys:
                raise self.fail(key_node, f"unknown key `{key}` in {what}.", f"Use one of: {', '.join(keys)}.")
            seen.add(key)
            items.append((key, key_node, value_node))
        return items

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value, not a list or mapping.", f"Give {what} one value.")
        return str(node.value)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if node.tag == "tag:yaml.org,2002:null" or not value.strip():
            raise self.fail(node, f"{what} is empty.", f"Give {what} a value.")
        return value

    def choice(self, node: yaml.Node, what: str, choices: tuple[str, ...]) -> str:
        value = self.scalar(node, what)
        # YAML 1.1 reads a bare `off` as false; take it as the word the user wrote
        if value not in choices:
            raise self.fail(node, f"{what} cannot be `{value}`.", f"Use one of: {', '.join(choices)}.")
        return value

    def count(self, node: yaml.Node, what: str, off: bool = False) -> int:
        """A whole number of zero or more (rows, milliseconds); `off` is 0 where allowed."""
        value = self.scalar(node, what).strip()
        if off and value.lower() in ("off", "false", "no"):
            return 0
        try:
            number = int(value.replace("_", ""))
        except ValueError:
            number = -1
        if number < 0:
            raise self.fail(node, f"{what} must be a whole number of 0 or more, not `{value}`.",
                            f"Write {what}: 100000" + (" (or off)." if off else "."))
        return number

    def strings(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode):
            return (self.text(node, what),)
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list.", f"Write {what} as a list: [a, b].")
        return tuple(self.text(item, f"an item of {what}") for item in node.value)


def load(path: Path, known_rules: set[str], shown: str | None = None) -> FileSettings:
    """Read and validate one settings file; paths inside it are relative to its folder."""
    reader = NodeReader(path, shown or str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read {reader.shown}: {exc.strerror or exc}", fix="Pass a readable file.",
                         file=path) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise UsageError(f"Not valid YAML: {exc.problem or exc}", fix="Fix the YAML syntax.",
                         file=path, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"Not valid YAML: {exc}", fix="Fix the YAML syntax.", file=path) from None
    values: dict[str, Any] = {}
    if root is None:
        return FileSettings(path=path)
    keys = ("rules", "naming", "roundtrip", "setup-sql", "preset", "env", "url-env", "url-parts", "exclude-schemas",
            "allow", "data-volume")
    for key, _key_node, node in reader.mapping(root, "the file", keys):
        if key == "rules":
            rules: dict[str, Severity | None] = {}
            for rule_id, rule_node, level_node in reader.mapping(node, "rules", None):
                if rule_id not in known_rules:
                    raise reader.fail(rule_node, f"rules: no rule is called `{rule_id}`.",
                                      "See `migration-check rules` for the rule ids.")
                level = reader.choice(level_node, f"rules.{rule_id}", RULE_LEVELS)
                rules[rule_id] = None if level == "off" else Severity.parse(level)
            values["rules"] = rules
        elif key == "naming":
            values["naming"] = {name: reader.text(pattern, f"naming.{name}")
                                for name, _n, pattern in reader.mapping(node, "naming", NAMING_KEYS)}
        elif key == "roundtrip":
            values["roundtrip"] = reader.choice(node, "roundtrip", ROUNDTRIP_CHOICES)
        elif key == "preset":
            values["preset"] = reader.choice(node, "preset", PRESET_CHOICES)
        elif key == "setup-sql":
            files = []
            for item in (node.value if isinstance(node, yaml.SequenceNode) else [node]):
                name = reader.text(item, "an item of setup-sql")
                resolved = (path.parent / name).resolve()
                if not resolved.is_file():
                    raise reader.fail(item, f"setup-sql: {name} does not exist (paths are relative to this file).",
                                      "Name an existing .sql file.")
                files.append(resolved)
            values["setup_sql"] = tuple(files)
        elif key == "env":
            values["env"] = tuple((name, reader.scalar(value, f"env.{name}"))
                                  for name, _n, value in reader.mapping(node, "env", None))
        elif key == "url-env":
            values["url_env"] = reader.strings(node, "url-env")
        elif key == "url-parts":
            values["url_parts"] = reader.strings(node, "url-parts")
        elif key == "exclude-schemas":
            values["exclude_schemas"] = reader.strings(node, "exclude-schemas")
        elif key == "allow":
            values["allow"] = _allow_entries(reader, node, known_rules)
        elif key == "data-volume":
            values.update(_data_volume(reader, node))
    return FileSettings(path=path, **values)


def _data_volume(reader: NodeReader, node: yaml.Node) -> dict[str, Any]:
    """data-volume: 100000, off, or a mapping of default, tables, lock-threshold-ms and slow-migration-ms."""
    if isinstance(node, yaml.ScalarNode):
        return {"volume_rows": reader.count(node, "data-volume", off=True)}
    values: dict[str, Any] = {}
    keys = ("default", "tables", "fill", "lock-threshold-ms", "slow-migration-ms")
    for key, _key_node, value in reader.mapping(node, "data-volume", keys):
        if key == "default":
            values["volume_rows"] = reader.count(value, "data-volume.default", off=True)
        elif key == "fill":
            values["volume_fill"] = reader.choice(value, "data-volume.fill", ("touched", "all"))
        elif key == "tables":
            values["volume_tables"] = tuple((name, reader.count(rows, f"data-volume.tables.{name}"))
                                            for name, _n, rows in reader.mapping(value, "data-volume.tables", None))
        else:
            values[key.replace("-", "_")] = reader.count(value, f"data-volume.{key}")
    return values


def _allow_entries(reader: NodeReader, node: yaml.Node, known_rules: set[str]) -> tuple[AllowEntry, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise reader.fail(node, "allow must be a list of entries.", "Start each entry with `- rule: <rule-id>`.")
    entries = []
    for item in node.value:
        fields = {key: (key_node, value) for key, key_node, value in
                  reader.mapping(item, "an allow entry", ("rule", "match", "reason", "expires"))}
        for required in ("rule", "reason"):
            if required not in fields:
                raise reader.fail(item, f"this allow entry has no `{required}`.",
                                  "Every entry needs the rule it allows and a reason a reviewer can check."
                                  if required == "reason" else "Name the rule: `rule: model-drift`.")
        rule_id = reader.text(fields["rule"][1], "allow.rule")
        if rule_id not in known_rules:
            raise reader.fail(fields["rule"][1], f"allow: no rule is called `{rule_id}`.",
                              "See `migration-check rules` for the rule ids.")
        reason = reader.text(fields["reason"][1], "allow.reason")
        match: tuple[tuple[str, str], ...] = ()
        if "match" in fields:
            match = tuple((key, reader.scalar(value, f"allow.match.{key}"))
                          for key, _k, value in reader.mapping(fields["match"][1], "allow.match", None))
        expires = None
        if "expires" in fields:
            value_node = fields["expires"][1]
            text = reader.text(value_node, "allow.expires")
            try:
                expires = datetime.date.fromisoformat(text)
            except ValueError:
                raise reader.fail(value_node, f"allow.expires `{text}` is not a date.",
                                  "Write the date as YYYY-MM-DD.") from None
        entries.append(AllowEntry(rule_id, match, reason, expires, reader.shown, item.start_mark.line + 1))
    return tuple(entries)
