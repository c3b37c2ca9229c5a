"""One check, end to end: configuration → a database → stages → a report. Data flows one way."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

from migration_check import redact
from migration_check.alembic_runner import AlembicProject, Comparison
from migration_check.config import STATIC_STAGES, CheckConfig, environment_names
from migration_check.database import (
    EarlyStart,
    ScratchDatabase,
    find_server_binaries,
    scratch_database_on,
    throwaway_database,
)
from migration_check.drivers import choose_driver
from migration_check.environment import patched_environ, project_environment, url_for_settings
from migration_check.findings import Finding, Report
from migration_check.history.scripts import MigrationScript
from migration_check.locate import ModelIndex
from migration_check.paths import relative_to_root, repository_root
from migration_check.policy import apply_policy
from migration_check.presets import PRESETS, Preset
from migration_check.progress import Progress, counted
from migration_check.rules import (
    BROKEN_REVISION_GRAPH,
    DOWNGRADE_FAILED,
    DROP_UNNAMED_CONSTRAINT,
    FK_WITHOUT_INDEX,
    FLASK_AUTOGENERATE_COMMAND,
    IRREVERSIBLE_MIGRATION,
    MISSING_DOWNGRADE,
    ROUNDTRIP_MISMATCH,
    RULES,
    UPGRADE_FAILED,
    UPGRADE_NOT_IDEMPOTENT,
)
from migration_check.stages.apply import check_upgrade
from migration_check.stages.compare import check_models
from migration_check.stages.graph import UNLOADABLE_GRAPH
from migration_check.stages.naming import check_long_names_in_migrations, check_names
from migration_check.stages.registration import check_registration
from migration_check.stages.roundtrip import DOWN, RoundTrip, listed_revisions
from migration_check.stages.setup import run_setup
from migration_check.stages.static import check_against_base, check_files, read_scripts, revisions_at
from migration_check.stages.volume.run import VolumeSkipped, run_volume


def _open_database(config: CheckConfig, stack: contextlib.ExitStack, early: EarlyStart | None) -> ScratchDatabase:
    if config.database_url:
        return stack.enter_context(scratch_database_on(config.database_url))
    binaries = early.server.binaries if early is not None else find_server_binaries(config.postgres_bin)
    return stack.enter_context(throwaway_database(binaries, config.port, early))


def aimed_at(project: AlembicProject, database: ScratchDatabase, driver: str,
             config: CheckConfig) -> contextlib.AbstractContextManager[None]:
    """Point env.py at the scratch database, and nowhere else: its URL for Alembic and for the variables the
    project's settings read (the caller keeps them set for the run)."""
    url = database.url(driver).render_as_string(hide_password=False)
    project.point_at(url, database.identity())
    handed = url_for_settings(database, driver, project.configured_url)
    return patched_environ(project_environment(database, handed, environment_names(config), config.env, url))


def run_check(config: CheckConfig, progress: Progress) -> Report:
    redact.register_settings(config.database_url, config.env)
    location = config.alembic
    root = repository_root(location.project_dir)
    report = Report(
        project=relative_to_root(location.project_dir, root) or ".",
        config_file=relative_to_root(location.main_file, root),
    )
    preset = PRESETS[config.preset] if config.preset else None
    excluded = (*config.excluded_schemas, *(preset.schemas if preset else ()))
    comparing = [stage for stage in ("roundtrip", "compare", "naming") if stage in config.stages]
    if excluded and comparing:
        why = [*([f"--preset {config.preset} stands in for {', '.join(preset.schemas)}"] if preset else []),
               *([f"the configuration excludes {', '.join(config.excluded_schemas)}"] if config.excluded_schemas
                 else [])]
        report.skipped.append(f"{', '.join(comparing)}: schema{'s' if len(excluded) > 1 else ''} "
                              f"{', '.join(excluded)} left out ({'; '.join(why)}): models and objects in "
                              f"{'them' if len(excluded) > 1 else 'it'} are not compared")

    with progress.step("configuration", "reading the Alembic configuration") as note:
        project = AlembicProject(location)
        if project.flask_app:
            report.autogenerate_command = FLASK_AUTOGENERATE_COMMAND
        user_values = dict(config.env)
        driver, why = choose_driver(
            config.driver,
            [
                project.configured_url,
                *(user_values.get(name) or os.environ.get(name) for name in environment_names(config)),
            ],
            project.env_py,
        )
        note.text = f"{relative_to_root(location.main_file, root)}, driver {driver} ({why})"

    with contextlib.ExitStack() as starting:
        # the throwaway server starts while the files are read and checked (closed here if nothing takes it)
        early = starting.enter_context(EarlyStart(find_server_binaries(config.postgres_bin), config.port)) \
            if config.needs_database and not config.database_url else None
        # Read once: the graph, history and round-trip stages all work from the same parsed files.
        scripts = read_scripts(project)
        _run_static_stages(config, project, scripts, root, report, progress)
        unloadable = [f for f in report.findings if f.rule == BROKEN_REVISION_GRAPH.id
                      and f.details.get("problem") in UNLOADABLE_GRAPH]
        if config.needs_database and unloadable:
            waiting = [stage for stage in config.stages if stage not in STATIC_STAGES
                       and (stage != "volume" or config.volume_planned)]
            report.skipped.append(f"{', '.join(waiting)}: skipped, since Alembic cannot load the revision graph: "
                                  f"{UNLOADABLE_GRAPH[str(unloadable[0].details['problem'])]} "
                                  "(broken-revision-graph)")
        elif config.needs_database:
            try:
                _run_stages(config, project, scripts, driver, excluded, preset, root, report, progress, early)
            finally:
                report.driver = project.used_driver
                if config.verbose and project.output.strip():
                    progress.say("── what env.py and Alembic printed ──\n" + project.output.rstrip())
    report.timings = list(progress.timings)
    _one_finding_per_mistake(report)
    apply_policy(config, scripts, root, report)
    return report


def _one_finding_per_mistake(report: Report) -> None:
    """One mistake, one finding, the one that says what to write:
    - a downgrade that fails at a line the static rules already blamed (drop_constraint(None, ...)): the static
      finding stays and carries the database's error;
    - a downgrade that leaves the schema different (roundtrip-mismatch, with the code it needs) is also why a
      downgrade() of `pass` was flagged (missing-downgrade) and why applying the revision again fails or differs
      (upgrade-not-idempotent): the mismatch stays, and carries the re-upgrade's error."""
    static = {(f.file, f.line): f for f in report.findings if f.rule == DROP_UNNAMED_CONSTRAINT.id}
    # the stairway's mismatches, one revision's downgrade each (not the downgrade to base's, below a revision)
    mismatches = {f.revision: f for f in report.findings if f.rule == ROUNDTRIP_MISMATCH.id and f.revision
                  and f.details.get("step") == DOWN}
    kept = []
    for finding in report.findings:
        blamed = static.get((finding.file, finding.line)) if finding.rule == DOWNGRADE_FAILED.id else None
        explained = mismatches.get(finding.revision) \
            if finding.rule in (MISSING_DOWNGRADE.id, UPGRADE_NOT_IDEMPOTENT.id) else None
        if blamed is not None:
            blamed.details.setdefault("downgrade_error", finding.details.get("error"))
        elif explained is not None:
            if finding.rule == UPGRADE_NOT_IDEMPOTENT.id:
                explained.details.setdefault("reupgrade", finding.details.get("error") or finding.message)
        else:
            kept.append(finding)
    report.findings[:] = kept


def _run_static_stages(
    config: CheckConfig,
    project: AlembicProject,
    scripts: list[MigrationScript],
    root: Path,
    report: Report,
    progress: Progress,
) -> None:
    """The rules that read the files only: they run first, and also where the project cannot be imported."""
    if "graph" in config.stages:
        with progress.step("graph", "checking the revision graph and each migration") as note:
            found = check_files(project, scripts, root)
            report.findings.extend(found)
            note.findings(found, prefix=f"{counted(len(scripts), 'file')}, ")
    if "history" in config.stages:
        if not config.base_ref:
            report.skipped.append(f"history: {config.no_base_because or 'no --base-ref'}, so edited, deleted and "
                                  "misplaced migrations were not looked for")
            return
        with progress.step("history", f"comparing the history with {config.base_ref}") as note:
            found = check_against_base(project, scripts, config.base_ref, root)
            report.findings.extend(found)
            note.findings(found)


def _run_stages(
    config: CheckConfig,
    project: AlembicProject,
    scripts: list[MigrationScript],
    driver: str,
    excluded: tuple[str, ...],
    preset: Preset | None,
    root: Path,
    report: Report,
    progress: Progress,
    early: EarlyStart | None,
) -> None:
    with contextlib.ExitStack() as stack:
        label = "creating a scratch database" if config.database_url else "starting a throwaway PostgreSQL"
        with progress.step("database", label) as note:
            database = _open_database(config, stack, early)
            report.server = database.info
            note.text = database.info.describe()
        stack.enter_context(aimed_at(project, database, driver, config))

        with progress.step("revisions", "reading the migrations") as note:
            moved = project.discover_version_locations()
            revisions = project.load_revisions()
            note.text = counted(len(revisions), "revision")
            if moved:
                note.text += " (in the folders env.py sets: " + ", ".join(
                    relative_to_root(folder, root) or str(folder) for folder in project.version_folders()) + ")"
        if moved:
            # the file rules ran on the configured folders, before env.py said where the revisions are
            scripts[:] = read_scripts(project)
            report.findings[:] = [f for f in report.findings if RULES[f.rule].stage not in STATIC_STAGES]
            report.skipped[:] = [s for s in report.skipped if not s.startswith("history:")]
            _run_static_stages(config, project, scripts, root, report, progress)
        if not revisions:
            folders = ", ".join(relative_to_root(folder, root) or str(folder) for folder in project.version_folders())
            report.skipped.append(
                f"apply, roundtrip: {folders} holds no migrations yet, so there was nothing to apply; the models "
                "are compared with an empty database (if the migrations live elsewhere, name the folders in "
                "alembic.ini's version_locations)")

        if preset or config.setup_sql:
            with progress.step("setup", "running setup SQL") as note:
                ran = run_setup(database, preset, config.setup_sql)
                if (config.roundtrip_mode != "off" or config.volume_planned) and "apply" in config.stages:
                    # roles and extensions the setup made cannot simply be made again: keep a copy to start over
                    # from, should the round trip change the schema for good
                    database.keep_starting_point()
                note.text = counted(ran, "script")

        if "apply" not in config.stages:
            return
        failures: list[Finding] = []
        mode = config.roundtrip_mode
        round_trip: RoundTrip | None = None
        if mode != "off":
            with progress.step("roundtrip", f"round trip ({mode}): apply, downgrade, apply again") as note:
                at_base = revisions_at(project, config.base_ref, root) if mode == "changed" and config.base_ref \
                    else None
                round_trip = RoundTrip(project, database, scripts, at_base, excluded, root)
                outcome = round_trip.stairway(note.advance)
                report.findings.extend(outcome.findings)
                report.skipped.extend(outcome.notes)
                failures = [f for f in outcome.findings if f.rule == UPGRADE_FAILED.id]
                note.findings(outcome.findings, prefix=_steps_ran(outcome.steps, outcome.planned))
            at_head = outcome.at_head
            if outcome.changed_for_good:
                failures = _start_over(project, database, root, outcome.changed_for_good, report, progress)
            elif failures and outcome.upgrade_failed:
                failures = _upgrade_in_one_command(project, database, root, failures, report, progress)
                at_head = not failures
            if not outcome.at_head:
                round_trip = None  # the database is not where the downgrade to base would start
                if not failures and not at_head:
                    with progress.step("upgrade", "applying the migrations to head for the comparison") as note:
                        failures = check_upgrade(project, root)
                        note.failed = bool(failures)
                        if [f.revision for f in failures] == [outcome.stopped_at]:
                            # the revision that could not be applied again after its downgrade, as reported
                            report.skipped.append(f"upgrade: the database could not be brought to head, since "
                                                  f"revision {outcome.stopped_at} cannot be applied again after "
                                                  "its downgrade (see above)")
                        else:
                            report.findings.extend(failures)
        else:
            with progress.step("upgrade", "applying the migrations from scratch") as note:
                failures = check_upgrade(project, root)
                report.findings.extend(failures)
                note.failed = bool(failures)
                note.text = "failed" if failures else f"{len(revisions)} applied"
        if mode == "off" and "roundtrip" in config.stages:
            report.skipped.append("roundtrip: off")

        wants_models = [stage for stage in ("compare", "naming") if stage in config.stages]
        if wants_models and failures:
            report.skipped.extend(f"{stage}: skipped because the upgrade failed" for stage in wants_models)
            if "naming" in config.stages:  # what the migration files spell needs no migrated database
                report.findings.extend(check_long_names_in_migrations(scripts, root))
        elif wants_models:
            _run_model_stages(config, project, database, scripts, excluded, root, report, progress)

        # Last, so that the comparison above found the database at head without applying everything again.
        if round_trip is not None and round_trip.goes_down_to_base and not failures:
            with progress.step("to-base", "downgrading everything to base") as note:
                found, ran = round_trip.down_to_base(note.advance)
                report.findings.extend(found)
                note.findings(found, prefix=_steps_ran(ran, len(round_trip.order)))

        if config.volume_planned and revisions:
            if failures:
                report.skipped.append("volume: skipped because the upgrade failed on empty tables")
            else:
                # after the changed round trip the database is at head; where it proved every new downgrade
                # exact, the volume stage goes down through them instead of building the base again
                proved = mode == "changed" and round_trip is not None and not any(
                    f.rule in (DOWNGRADE_FAILED.id, ROUNDTRIP_MISMATCH.id, UPGRADE_NOT_IDEMPOTENT.id,
                               IRREVERSIBLE_MIGRATION.id) for f in report.findings)
                _run_volume_stage(config, project, database, scripts, excluded, root, report, progress, proved)
        elif "volume" in config.stages and "apply" in config.stages and config.data_volume.rows is None \
                and revisions:
            report.skipped.append("volume: off without --base-ref (there are no new migrations to try on filled "
                                  "tables); ask for it with --data-volume ROWS to try the head's revision")


def _run_volume_stage(config: CheckConfig, project: AlembicProject, database: ScratchDatabase,
                      scripts: list[MigrationScript], excluded: tuple[str, ...], root: Path, report: Report,
                      progress: Progress, at_head: bool) -> None:
    """The new revisions on filled tables, the last stage since it changes the scratch database: at_head, it goes
    down through the new revisions to the base; else it makes the database anew and applies the base."""
    rows = config.data_volume.default_rows
    with progress.step("volume", f"the new migrations on tables of {rows:,} rows") as note:
        at_base = revisions_at(project, config.base_ref, root) if config.base_ref else None
        try:
            observed, found = run_volume(project, database, scripts, at_base, config.data_volume, excluded, root,
                                         note.advance, at_head)
        except VolumeSkipped as exc:
            report.skipped.append(f"volume: {exc}")
            note.text = "skipped"
            return
        report.volume = observed
        report.findings.extend(found)
        skipped = f", {len(observed.filled.skipped)} not filled" if observed.filled.skipped else ""
        note.findings(found, prefix=f"{observed.filled.total_rows:,} rows in {len(observed.filled.rows)} tables "
                      f"({observed.filled.seconds:.1f} s){skipped}, {len(observed.revisions)} revisions, ")
        for table, why in observed.filled.skipped.items():
            report.skipped.append(f"volume: {table} was not filled: {why}")


def _upgrade_from_scratch_again(project: AlembicProject, database: ScratchDatabase, root: Path,
                                progress: Progress, label: str) -> list[Finding]:
    """The scratch database made again, as before the first migration, and upgraded to head in one command."""
    with progress.step("upgrade", label) as note:
        database.start_over()
        project.scratch_database_recreated(database.identity())
        failures = check_upgrade(project, root)
        note.failed = bool(failures)
        note.text = "failed" if failures else "done"
    return failures


def _start_over(project: AlembicProject, database: ScratchDatabase, root: Path, changed: list[str],
                report: Report, progress: Progress) -> list[Finding]:
    """The models are compared on a database that only ever went up: when the round trip left its mark (env.py
    commits each migration, so a downgrade that leaves something behind stays), build it again from scratch."""
    failures = _upgrade_from_scratch_again(project, database, root, progress,
                                           "applying the migrations again from scratch for the comparison")
    report.findings.extend(failures)
    report.skipped.append(
        f"compare: the round trip changed the schema for good at {listed_revisions(changed)} (env.py commits each "
        "migration, so it could not be taken back): the database was built again from scratch for the comparison")
    return failures


def _upgrade_in_one_command(project: AlembicProject, database: ScratchDatabase, root: Path,
                            failures: list[Finding], report: Report, progress: Progress) -> list[Finding]:
    """The round trip applies each revision as a command of its own would (as an incremental deployment does).
    When a revision fails there, try the whole history in one `alembic upgrade head` from scratch: if that
    passes (SQLAlchemy remembers, within one command, the enum types it has created, say), the failure is the
    incremental deployment's, the finding says so, and the models are compared on the database at head."""
    in_one = _upgrade_from_scratch_again(project, database, root, progress,
                                         "applying the migrations from scratch in one command")
    if in_one:
        return failures  # the same failure: reported once, by the round trip
    said = {id(failure): dataclasses.replace(
        failure, message=failure.message + " (applied by an `alembic upgrade` of its own, after the revisions below "
        "it, as an incremental deployment applies it; in one `alembic upgrade head` from an empty database it "
        "passes)", details={**failure.details, "passes_in_one_command": True}) for failure in failures}
    report.findings[:] = [said.get(id(finding), finding) for finding in report.findings]
    report.skipped.append(f"compare: on the database that one `alembic upgrade head` from scratch built, since "
                          f"{listed_revisions([f.revision or '?' for f in failures])} fails only when applied by a "
                          "command of its own")
    return []


def _steps_ran(ran: int, planned: int) -> str:
    """The start of a progress line's note: the steps that ran, and the plan when the run stopped short."""
    return f"{counted(ran, 'step')}, " if ran == planned else f"{ran} of {counted(planned, 'step')}, "


def _run_model_stages(
    config: CheckConfig,
    project: AlembicProject,
    database: ScratchDatabase,
    scripts: list[MigrationScript],
    excluded: tuple[str, ...],
    root: Path,
    report: Report,
    progress: Progress,
) -> None:
    """The stages that read the models, on the database at head: one autogenerate comparison serves both."""
    comparison: Comparison | None = None
    models: ModelIndex | None = None
    if "compare" in config.stages:
        with progress.step("compare", "comparing the models with the database") as note:
            comparison = project.compare(excluded)
            models = ModelIndex.from_loaded_modules(skip=project.version_folders())
            drift, report.suggested_migration = check_models(comparison, models, root, scripts, project.env_py)
            drift += check_registration(comparison.metadata, models, project.version_folders(), root,
                                        project.env_py, project.location.project_dir)
            report.findings.extend(drift)
            note.failed = bool(drift)
            note.text = counted(len(drift), "difference")
    if "naming" in config.stages:
        with progress.step("naming", "checking names and foreign keys") as note:
            if comparison is None or models is None:
                comparison = project.compare(excluded)
                models = ModelIndex.from_loaded_modules(skip=project.version_folders())
            with database.connect() as connection:
                found = check_names(
                    comparison.metadata, connection, scripts, excluded, config.naming_patterns, models, root,
                    unindexed_fks=config.severity_of(FK_WITHOUT_INDEX.id) is not None,
                )
            report.findings.extend(found)
            note.findings(found)
