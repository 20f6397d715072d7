"""The official Formance Python SDK (formance-sdk-python 9.0.1, whose
orchestration v1/v2 clients are generated from the reference OpenAPI files)
drives every v1 and v2 operation against a live server and parses every answer.

The SDK calls `/api/orchestration/...` (the gateway prefix), which the
service serves directly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from formance_sdk_python import SDK
from formance_sdk_python.models import orchestration
from sqlalchemy import create_engine, insert, update

from engine.db import schema
from engine.settings import sqlalchemy_url

pytestmark = pytest.mark.integration

WAIT = {"name": "sdk", "stages": [{"wait_event": {"event": "go"}}]}


def body(response: Any) -> Any:
    """The parsed payload of an SDK response (the one typed field it fills)."""
    values = [
        getattr(response, name)
        for name in type(response).model_fields
        if name not in ("content_type", "status_code", "raw_response")
    ]
    found = [v for v in values if v is not None]
    assert len(found) == 1, response
    return found[0]


@pytest.fixture(scope="module")
def sdk(live_server: Any) -> Iterator[SDK]:
    with live_server(relay=False) as url:
        yield SDK(server_url=url)


@pytest.fixture(scope="module")
def finish(database_url: str) -> Iterator[Any]:
    """Stands in for the engine: terminate an instance, record its first stage."""
    engine = create_engine(sqlalchemy_url(database_url))

    def terminate(instance_id: str) -> None:
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            conn.execute(
                update(schema.workflow_instances)
                .where(schema.workflow_instances.c.id == instance_id)
                .values(terminated=True, terminated_at=now)
            )
            conn.execute(
                insert(schema.workflow_instance_stage_statuses).values(
                    instance_id=instance_id, stage=0, temporal_run_id="run", terminated_at=now
                )
            )
            conn.execute(
                insert(schema.workflow_instance_history).values(
                    instance_id=instance_id,
                    stage=0,
                    name="RunWaitEvent",
                    input={"wait_event": {"event": "go"}},
                    terminated=True,
                    terminated_at=now,
                )
            )
            conn.execute(
                insert(schema.workflow_stage_history).values(
                    instance_id=instance_id,
                    stage=0,
                    position=0,
                    name="GetAccount",
                    input={"GetAccount": {"ledger": "main", "id": "world"}},
                    output={"GetAccount": {"data": {"address": "world", "metadata": {}}}},
                    terminated=True,
                    terminated_at=now,
                )
            )

    yield terminate
    engine.dispose()


def test_v2_every_operation(sdk: SDK, finish: Any) -> None:
    v2 = sdk.orchestration.v2
    assert body(v2.get_server_info()).version == "develop"

    workflow = body(v2.create_workflow(request=WAIT)).data
    assert workflow.config.stages == WAIT["stages"]
    assert body(v2.get_workflow(request={"flow_id": workflow.id})).data.id == workflow.id
    listed = body(v2.list_workflows(request={"page_size": 100})).cursor
    assert workflow.id in [w.id for w in listed.data]

    trigger = body(
        v2.create_trigger(
            request={
                "event": "SAVED_PAYMENT",
                "workflow_id": workflow.id,
                "name": "sdk trigger",
                "filter": 'event.status == "SUCCEEDED"',
                "vars": {"paymentID": "event.id"},
            }
        )
    ).data
    assert body(v2.read_trigger(request={"trigger_id": trigger.id})).data.name == "sdk trigger"
    triggers = body(v2.list_triggers(request={"name": "SDK TRIG", "page_size": 5})).cursor
    assert [t.id for t in triggers.data] == [trigger.id]
    tested = body(
        v2.test_trigger(
            request={"trigger_id": trigger.id, "request_body": {"status": "SUCCEEDED", "id": "p"}}
        )
    ).data
    assert tested.filter_.match is True
    assert tested.variables["paymentID"].value == "p"
    occurrences = body(v2.list_triggers_occurrences(request={"trigger_id": trigger.id})).cursor
    assert occurrences.data == []

    run = body(
        v2.run_workflow(request={"workflow_id": workflow.id, "request_body": {"a": "b"}})
    ).data
    assert run.terminated is False
    instances = body(v2.list_instances(request={"workflow_id": workflow.id, "running": True}))
    assert [i.id for i in instances.cursor.data] == [run.id]
    assert (
        v2.send_event(request={"instance_id": run.id, "request_body": {"name": "go"}}).status_code
        == 204
    )
    assert v2.cancel_event(request={"instance_id": run.id}).status_code == 204

    finish(run.id)
    instance = body(v2.get_instance(request={"instance_id": run.id})).data
    assert instance.terminated is True
    assert instance.status[0].stage == 0
    history = body(v2.get_instance_history(request={"instance_id": run.id})).data
    assert history[0].name == "RunWaitEvent"
    stage = body(v2.get_instance_stage_history(request={"instance_id": run.id, "number": 0}))
    assert stage.data[0].name == "GetAccount"

    assert v2.delete_trigger(request={"trigger_id": trigger.id}).status_code == 204
    assert v2.delete_workflow(request={"flow_id": workflow.id}).status_code == 204

    with pytest.raises(orchestration.V2Error) as caught:
        v2.get_workflow(request={"flow_id": workflow.id})
    assert caught.value.data.error_code == orchestration.V2ErrorErrorCode.NOT_FOUND
    with pytest.raises(orchestration.V2Error) as invalid:
        v2.create_workflow(request={"stages": [{"delay": {"duration": "soon"}}]})
    assert invalid.value.data.error_code == orchestration.V2ErrorErrorCode.VALIDATION


def test_v1_every_operation(sdk: SDK, finish: Any) -> None:
    v1 = sdk.orchestration.v1
    assert body(v1.get_server_info_orchestration()).version == "develop"

    workflow = body(v1.create_workflow(request=WAIT)).data
    assert body(v1.get_workflow(request={"flow_id": workflow.id})).data.id == workflow.id
    assert workflow.id in [w.id for w in body(v1.list_workflows()).data]

    trigger = body(
        v1.create_trigger(request={"event": "SAVED_PAYMENT", "workflow_id": workflow.id})
    ).data
    assert body(v1.read_trigger(request={"trigger_id": trigger.id})).data.id == trigger.id
    assert trigger.id in [t.id for t in body(v1.list_triggers(request={})).data]
    assert body(v1.list_triggers_occurrences(request={"trigger_id": trigger.id})).data == []

    run = body(v1.run_workflow(request={"workflow_id": workflow.id})).data
    listed = body(v1.list_instances(request={"workflow_id": workflow.id})).data
    assert [i.id for i in listed] == [run.id]
    assert (
        v1.send_event(request={"instance_id": run.id, "request_body": {"name": "go"}}).status_code
        == 204
    )
    assert v1.cancel_event(request={"instance_id": run.id}).status_code == 204

    finish(run.id)
    assert body(v1.get_instance(request={"instance_id": run.id})).data.terminated is True
    assert body(v1.get_instance_history(request={"instance_id": run.id})).data[0].terminated
    stage = body(v1.get_instance_stage_history(request={"instance_id": run.id, "number": 0}))
    assert stage.data[0].output is not None

    assert v1.delete_trigger(request={"trigger_id": trigger.id}).status_code == 204
    assert v1.delete_workflow(request={"flow_id": workflow.id}).status_code == 204
    with pytest.raises(orchestration.Error) as caught:
        v1.get_instance(request={"instance_id": str(uuid.uuid4())})
    assert caught.value.data.error_code == orchestration.ErrorErrorCode.NOT_FOUND
