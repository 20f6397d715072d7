"""The producers' partitioner must place keys exactly as Kafka's default one does:
the instances changelog is read back by partition, assuming the commands'
partition of each key."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2
from hypothesis import given
from hypothesis import strategies as st

from streams.producers import CachedPartitioner, murmur2

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_keys_land_where_the_default_partitioner_puts_them(partitions: int) -> None:
    cached, default = CachedPartitioner(size=50), DefaultPartitioner()
    everything = list(range(partitions))
    keys = [f"inst-{n}_1".encode() for n in range(400)] + [b"", b"\xff\x00"]
    for _ in range(2):  # the second pass reads the cache (and refills it past 50)
        for key in keys:
            assert cached(key, everything, everything) == default(key, everything, everything)


def test_keyless_records_go_to_an_available_partition() -> None:
    cached = CachedPartitioner()
    assert {cached(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert cached(None, [0, 1], []) in (0, 1)


@given(st.binary(max_size=90))
def test_murmur2_is_the_java_clients_hash(key: bytes) -> None:
    # aiokafka's port of org.apache.kafka.common.utils.Utils.murmur2 is the reference.
    assert murmur2(key) == reference_murmur2(key)
