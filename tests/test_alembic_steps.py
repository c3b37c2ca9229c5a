"""Our downgrade step's shortcut gives what Alembic's own step gives, on a history with branches, a merge and a
cross-branch dependency, for every revision and every head it could be downgraded beside."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from alembic.runtime.migration import RevisionStep
from alembic.script.revision import Revision, RevisionMap

from migration_check.alembic_runner import _Step


class Script(Revision):
    """A revision with the module a step runs (never called here)."""

    module = SimpleNamespace(upgrade=None, downgrade=None)


def history() -> RevisionMap:
    # a - b - c -+- d1 - e1 -+- m - n
    #            +- d2 ------+
    # f (second base), g depends on d2
    revisions = [
        Script("a", None), Script("b", "a"), Script("c", "b"),
        Script("d1", "c"), Script("e1", "d1"), Script("d2", "c"),
        Script("m", ("e1", "d2")), Script("n", "m"),
        Script("f", None), Script("g", "f", dependencies="d2"),
    ]
    return RevisionMap(lambda: revisions)


def test_the_shortcut_agrees_with_alembic_for_every_downgrade() -> None:
    revisions = history()
    names = [r.revision for r in revisions.iterate_revisions("heads", "base")]
    compared = 0
    for name in names:
        revision = revisions.get_revision(name)
        ours, theirs = _Step(revisions, revision, False), RevisionStep(revisions, revision, False)
        for other in [(), *itertools.combinations([n for n in names if n != name], 1),
                      *itertools.combinations([n for n in names if n != name], 2)]:
            heads = {name, *other}
            assert set(ours._unmerge_to_revisions(heads)) == set(theirs._unmerge_to_revisions(heads)), (name, heads)
            assert ours.should_delete_branch(heads) == theirs.should_delete_branch(heads), (name, heads)
            compared += 1
    assert compared > 300


def test_the_shortcut_is_taken_on_a_linear_history() -> None:
    chain = [Script("r0", None)] + [Script(f"r{k}", f"r{k - 1}") for k in range(1, 60)]
    revisions = RevisionMap(lambda: chain)
    step = _Step(revisions, revisions.get_revision("r59"), False)
    assert step._unmerge_to_revisions({"r59"}) == ("r58",)
    assert step._unmerge_to_revisions({"r59"}) == RevisionStep(revisions, revisions.get_revision("r59"),
                                                              False)._unmerge_to_revisions({"r59"})
