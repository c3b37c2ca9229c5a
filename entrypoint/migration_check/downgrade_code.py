"""The code a downgrade() lacks: Alembic operations that would turn the schema a downgrade left into the schema
before the revision, written from a round-trip mismatch, as the comparison writes the missing migration.

Definitions come from PostgreSQL's own formatting (format_type, pg_get_indexdef, pg_get_constraintdef), so the
SQL that re-creates an object is what the catalogs say it was. An enum value is taken back the only way PostgreSQL
allows, by converting each column to a new type. Whatever cannot be written exactly (a function's body) becomes a
comment that says what to do.
"""

from __future__ import annotations

import json
import re

from migration_check.snapshot import CONSTRAINT_KINDS, RELATION_KINDS, Changes, Row, Snapshot, owner_of

_RELATIONS = {kind: kind.upper() for kind in RELATION_KINDS}  # the SQL keyword: "materialized view" → MATERIALIZED VIEW
_CONSTRAINT_TYPES = {"primary key": "primary", "unique constraint": "unique", "foreign key": "foreignkey",
                     "check constraint": "check"}  # Alembic's type_ for drop_constraint()
_CONSTRAINTS = CONSTRAINT_KINDS
_COLUMN = re.compile(r"^(?P<type>.+?) (?P<null>NOT NULL|NULL)(?: DEFAULT (?P<default>.*?))?(?P<identity> IDENTITY)?$")
_SIMPLE_NAME = re.compile(r"^[a-z_][a-z0-9_$]*$")
_NEXTVAL = re.compile(r"nextval\('(?P<sequence>[^']+)'")

# Left-over objects are dropped dependents first; missing ones are created in the opposite order.
_DROP_ORDER = ("trigger", "view", "materialized view", "foreign key", "check constraint", "exclusion constraint",
               "constraint", "unique constraint", "primary key", "index", "column", "table", "foreign table",
               "sequence", "function", "enum type", "domain", "type", "extension", "schema")


def _literal(text: str) -> str:
    """A Python string literal in Alembic's style (double quotes)."""
    return json.dumps(text, ensure_ascii=False)


def _quoted(name: str) -> str:
    return name if _SIMPLE_NAME.match(name) else '"' + name.replace('"', '""') + '"'


def _qualified(schema: str, name: str) -> str:
    return f"{_quoted(schema)}.{_quoted(name)}"


def _schema_argument(schema: str) -> str:
    return "" if schema == "public" else f", schema={_literal(schema)}"


_LINE_BREAK = re.compile(r" *\n\s*")


def _execute(sql: str) -> str:
    """op.execute() on one line: a view's definition comes with line breaks; spaces inside literals stay."""
    return f"op.execute({_literal(_LINE_BREAK.sub(' ', sql).strip())})"


def _parts(name: str, count: int) -> list[str]:
    """Splits "schema.table.member" into its parts (a member name may itself hold dots)."""
    return name.split(".", count - 1)


def _drop(kind: str, name: str, definition: str) -> str:
    if kind in _RELATIONS:
        schema, relation = _parts(name, 2)
        if kind == "table":
            return f"op.drop_table({_literal(relation)}{_schema_argument(schema)})"
        return _execute(f"DROP {_RELATIONS[kind]} {_qualified(schema, relation)}")
    if kind == "column":
        schema, table, column = _parts(name, 3)
        return f"op.drop_column({_literal(table)}, {_literal(column)}{_schema_argument(schema)})"
    if kind in _CONSTRAINTS:
        schema, table, constraint = _parts(name, 3)
        type_ = f", type_={_literal(_CONSTRAINT_TYPES[kind])}" if kind in _CONSTRAINT_TYPES else ""
        return f"op.drop_constraint({_literal(constraint)}, {_literal(table)}{type_}{_schema_argument(schema)})"
    if kind == "index":
        schema, index = _parts(name, 2)
        owner = owner_of((kind, name, definition))
        table = f", table_name={_literal(_parts(owner, 2)[1])}" if owner else ""
        return f"op.drop_index({_literal(index)}{table}{_schema_argument(schema)})"
    if kind == "trigger":
        schema, table, trigger = _parts(name, 3)
        return _execute(f"DROP TRIGGER {_quoted(trigger)} ON {_qualified(schema, table)}")
    if kind == "enum type":
        schema, type_name = _parts(name, 2)
        return f"sa.Enum(name={_literal(type_name)}{_schema_argument(schema)}).drop(op.get_bind())"
    if kind in ("domain", "type"):
        schema, type_name = _parts(name, 2)
        return _execute(f"DROP {'DOMAIN' if kind == 'domain' else 'TYPE'} {_qualified(schema, type_name)}")
    if kind == "function":
        schema, signature = _parts(name, 2)
        function, arguments = signature.split("(", 1)
        return _execute(f"DROP FUNCTION {_qualified(schema, function)}({arguments}")
    if kind == "extension":
        return _execute(f"DROP EXTENSION {_quoted(name)}")
    return _execute(f"DROP SCHEMA {_quoted(name)}")


def _column_sql(column: str, definition: str) -> str | None:
    match = _COLUMN.match(definition)
    if match is None or match["identity"]:
        return None
    default = f" DEFAULT {match['default']}" if match["default"] else ""
    return f"{_quoted(column)} {match['type']}{' NOT NULL' if match['null'] == 'NOT NULL' else ''}{default}"


def _create(kind: str, name: str, definition: str, members: list[Row]) -> str:
    """Code that re-creates a missing object; members are a missing table's columns and constraints."""
    if kind == "table":
        schema, table = _parts(name, 2)
        parts = []
        for member_kind, member_name, member_definition in sorted(members, key=lambda row: row[0] != "column"):
            member = _parts(member_name, 3)[2]
            if member_kind == "column":
                column = _column_sql(member, member_definition)
                if column is None:
                    return f"# re-create table {name}: column {member} ({member_definition}) is beyond a sketch"
                parts.append(column)
            else:
                parts.append(f"CONSTRAINT {_quoted(member)} {member_definition}")
        return _execute(f"CREATE TABLE {_qualified(schema, table)} ({', '.join(parts)})")
    if kind == "column":
        schema, table, column = _parts(name, 3)
        sql = _column_sql(column, definition)
        if sql is None:
            return f"# re-create column {name} ({definition})"
        return _execute(f"ALTER TABLE {_qualified(schema, table)} ADD COLUMN {sql}")
    if kind in _CONSTRAINTS:
        schema, table, constraint = _parts(name, 3)
        return _execute(f"ALTER TABLE {_qualified(schema, table)} ADD CONSTRAINT {_quoted(constraint)} {definition}")
    if kind == "index":
        return _execute(definition)
    if kind in ("view", "materialized view"):
        schema, view = _parts(name, 2)
        return _execute(f"CREATE {_RELATIONS[kind]} {_qualified(schema, view)} AS {definition.strip().rstrip(';')}")
    if kind == "enum type":
        schema, type_name = _parts(name, 2)
        labels = ", ".join(_literal(label) for label in definition.split(", "))
        return f"sa.Enum({labels}, name={_literal(type_name)}{_schema_argument(schema)}).create(op.get_bind())"
    if kind == "domain":
        schema, type_name = _parts(name, 2)
        return _execute(f"CREATE DOMAIN {_qualified(schema, type_name)} AS {definition}")
    if kind == "sequence":
        schema, sequence = _parts(name, 2)
        return _execute(f"CREATE SEQUENCE {_qualified(schema, sequence)}")
    if kind == "extension":
        return _execute(f"CREATE EXTENSION IF NOT EXISTS {_quoted(name)}")
    if kind == "schema":
        return _execute(f"CREATE SCHEMA {_quoted(name)}")
    return f"# re-create {kind} {name}, as it was before this revision"


def _enum_values_back(name: str, before: str, after: str, columns: list[Row]) -> list[str]:
    """PostgreSQL cannot drop an enum value: the type is renamed, created again with the old values, each column
    converted through text (its default dropped first and set again after), and the renamed type dropped."""
    schema, type_name = _parts(name, 2)
    labels = before.split(", ")
    extra = [label for label in after.split(", ") if label not in labels]
    spelled = {name, type_name} if schema == "public" else {name}  # as format_type writes the column's type
    target = _qualified(schema, type_name)
    code = [f"# rows holding {', '.join(extra)} must be changed first: the conversion below fails on them"] if extra \
        else []
    code.append(_execute(f"ALTER TYPE {target} RENAME TO {_quoted(type_name + '_old')}"))
    code.append(f"sa.Enum({', '.join(_literal(label) for label in labels)}, name={_literal(type_name)}"
                f"{_schema_argument(schema)}).create(op.get_bind())")
    for _kind, column_name, definition in columns:
        match = _COLUMN.match(definition)
        if match is None or match["type"] not in spelled:
            continue
        table_schema, table, column = _parts(column_name, 3)
        alter = f"ALTER TABLE {_qualified(table_schema, table)} ALTER COLUMN {_quoted(column)}"
        if match["default"]:
            code.append(_execute(f"{alter} DROP DEFAULT"))
        code.append(_execute(f"{alter} TYPE {target} USING {_quoted(column)}::text::{target}"))
        if match["default"]:
            code.append(_execute(f"{alter} SET DEFAULT {match['default']}"))
    code.append(_execute(f"DROP TYPE {_qualified(schema, type_name + '_old')}"))
    return code


def _alter(expected: Row, found: Row, columns: list[Row]) -> list[str]:
    kind, name, before = expected
    after = found[2]
    if kind == "column":
        schema, table, column = _parts(name, 3)
        old, new = _COLUMN.match(before), _COLUMN.match(after)
        if old is None or new is None or old["identity"] != new["identity"]:
            return [f"# restore column {name}: {after} → {before}"]
        target = f"ALTER TABLE {_qualified(schema, table)} ALTER COLUMN {_quoted(column)}"
        code = []
        if old["type"] != new["type"]:
            code.append(_execute(f"{target} TYPE {old['type']}"))
        if old["null"] != new["null"]:
            code.append(f"op.alter_column({_literal(table)}, {_literal(column)}, "
                        f"nullable={old['null'] == 'NULL'}{_schema_argument(schema)})")
        if old["default"] != new["default"]:
            code.append(_execute(f"{target} SET DEFAULT {old['default']}" if old["default"]
                                 else f"{target} DROP DEFAULT"))
        return code
    if kind == "enum type":
        return _enum_values_back(name, before, after, columns)
    if kind in ("index", *_CONSTRAINTS, "view", "materialized view"):
        return [_drop(kind, name, after), _create(kind, name, before, [])]
    return [f"# restore {kind} {name} as it was before this revision"]


def _ownership(missing: list[Row]) -> list[str]:
    """A serial column owns its sequence, which then goes with it: without that, the next downgrade that drops
    the table leaves the sequence behind, and the one after fails to create it."""
    sequences = {name: name for kind, name, _definition in missing if kind == "sequence"}
    sequences |= {_parts(name, 2)[1]: name for name in list(sequences)}  # nextval() leaves out "public."
    code = []
    for kind, name, definition in missing:
        for match in _NEXTVAL.finditer(definition) if kind == "column" else ():
            sequence = sequences.get(match["sequence"].replace('"', ""))
            if sequence is not None:
                schema, table, column = _parts(name, 3)
                code.append(_execute(f"ALTER SEQUENCE {_qualified(*_parts(sequence, 2))} OWNED BY "
                                     f"{_qualified(schema, table)}.{_quoted(column)}"))
    return code


def _constraint_indexes(rows: list[Row]) -> set[str]:
    """The names ("schema.name") of the indexes that these constraints own, which go and come with them."""
    return {f"{_parts(name, 3)[0]}.{_parts(name, 3)[2]}" for kind, name, _definition in rows if kind in _CONSTRAINTS}


def downgrade_code(changes: Changes, schema: Snapshot | None = None) -> list[str]:
    """Lines of Python for downgrade(), in an order that works: dependents dropped before what they depend on,
    and missing objects created before what depends on them. schema, the whole schema as the downgrade left it,
    tells which columns use an enum type whose values must be taken back."""
    changes = changes.without_not_null()
    left_over_tables = {name for kind, name, _definition in changes.left_over if kind in _RELATIONS}
    missing_tables = {name for kind, name, _definition in changes.missing if kind == "table"}
    left_over_constraints = _constraint_indexes(changes.left_over)
    owned_sequences = {match["sequence"] for kind, _name, definition in changes.left_over if kind == "column"
                       for match in _NEXTVAL.finditer(definition)}
    code: list[str] = []
    for kind, name, definition in sorted(changes.left_over, key=lambda row: _DROP_ORDER.index(row[0])):
        if owner_of((kind, name, definition)) in left_over_tables:
            continue  # goes with its table
        if kind == "index" and name in left_over_constraints:
            continue  # the constraint's own index goes with it
        if kind == "sequence" and (name in owned_sequences or _parts(name, 2)[1] in owned_sequences):
            continue  # a serial column's sequence goes with it
        code.append(_drop(kind, name, definition))
    members: dict[str, list[Row]] = {table: [] for table in missing_tables}
    missing_constraints = _constraint_indexes(changes.missing)
    creations: list[Row] = []
    for kind, name, definition in changes.missing:
        owner = owner_of((kind, name, definition))
        if owner in missing_tables and kind not in ("index", "trigger", "foreign key"):
            members[owner].append((kind, name, definition))  # written inside CREATE TABLE
        elif not (kind == "index" and name in missing_constraints):
            creations.append((kind, name, definition))
    for kind, name, definition in sorted(creations, key=lambda row: -_DROP_ORDER.index(row[0])):
        code.append(_create(kind, name, definition, members.get(name, [])))
    code.extend(_ownership(changes.missing))
    # the columns as they will be when the enum types are altered: the changed ones restored first (a column
    # sorts before an enum type)
    current = {row[1]: row for row in (schema.objects if schema else ()) if row[0] == "column"}
    current |= {expected[1]: expected for expected, _found in changes.changed if expected[0] == "column"}
    columns = sorted(current.values())
    for expected, found in changes.changed:
        code.extend(_alter(expected, found, columns))
    return code
