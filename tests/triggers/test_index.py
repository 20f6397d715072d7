import pytest

from tests.builders import make_index, make_trigger
from triggers import InvalidTrigger, TriggerIndex

pytestmark = pytest.mark.unit


def ids(index: TriggerIndex, event: str, version: str = "v2") -> list[str]:
    return [c.trigger.id for c in index.candidates(event, version)]


def test_candidates_are_selected_by_exact_event_type() -> None:
    index = make_index(make_trigger(id="a"), make_trigger(id="b", event="SAVED_METADATA"))
    assert ids(index, "COMMITTED_TRANSACTIONS") == ["a"]
    assert ids(index, "SAVED_METADATA") == ["b"]
    assert ids(index, "committed_transactions") == []


def test_version_unset_matches_any_version_and_set_matches_exactly() -> None:
    index = make_index(make_trigger(id="any"), make_trigger(id="v2", version="v2"))
    assert ids(index, "COMMITTED_TRANSACTIONS", "v2") == ["any", "v2"]
    assert ids(index, "COMMITTED_TRANSACTIONS", "v1") == ["any"]


def test_empty_string_version_only_matches_empty_versions() -> None:
    index = make_index(make_trigger(id="empty", version=""))
    assert ids(index, "COMMITTED_TRANSACTIONS", "v2") == []
    assert ids(index, "COMMITTED_TRANSACTIONS", "") == ["empty"]


def test_triggers_of_unknown_or_deleted_workflows_never_fire() -> None:
    index = make_index(make_trigger(id="a"), make_trigger(id="b", workflow_id="w2"))
    assert ids(index, "COMMITTED_TRANSACTIONS") == ["a"]
    index.put_workflow("w2", deleted=False)
    assert ids(index, "COMMITTED_TRANSACTIONS") == ["a", "b"]
    index.put_workflow("w1", deleted=True)
    assert ids(index, "COMMITTED_TRANSACTIONS") == ["b"]


def test_replacing_and_removing_triggers() -> None:
    index = make_index(make_trigger(id="a"))
    index.put_trigger(make_trigger(id="a", event="SAVED_METADATA"))
    assert ids(index, "COMMITTED_TRANSACTIONS") == []
    assert ids(index, "SAVED_METADATA") == ["a"]
    assert len(index) == 1
    index.remove_trigger("a")
    index.remove_trigger("never-existed")
    assert ids(index, "SAVED_METADATA") == []
    assert len(index) == 0


def test_a_trigger_that_does_not_compile_is_refused_and_not_indexed() -> None:
    index = make_index()
    with pytest.raises(InvalidTrigger) as info:
        index.put_trigger(make_trigger(filter='1 + "x"'))
    assert info.value.field == "filter"
    assert len(index) == 0


def test_missing_event_or_workflow_is_refused() -> None:
    with pytest.raises(InvalidTrigger, match="missing event"):
        make_index(make_trigger(event=""))
    with pytest.raises(InvalidTrigger, match="missing workflow id"):
        make_index(make_trigger(workflow_id=""))


def test_the_index_knows_when_some_trigger_may_call_link() -> None:
    index = make_index(make_trigger(id="plain", filter='event.ledger == "main"'))
    assert not index.uses_link
    index.put_trigger(make_trigger(id="linked", vars={"role": 'link(event, "acct").role'}))
    assert index.uses_link
    index.remove_trigger("linked")
    assert not index.uses_link
