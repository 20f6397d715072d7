"""A real single-node Apache Kafka broker (KRaft combined mode) without Docker.

The broker's jars come from Maven Central through the small Maven project in
`compose/kafka/pom.xml`, fetched once into a cache directory and reused; the
broker then runs on the installed JDK with a small heap.
"""

from __future__ import annotations

import base64
import fcntl
import os
import shutil
import uuid
from importlib import resources
from pathlib import Path

from compose.localstack._process import (
    LocalStackError,
    free_port,
    port_open,
    run,
    spawn,
    wait_until,
)
from compose.localstack._server import LocalServer

# 3.9.x, not 4.x: it keeps every protocol version aiokafka 0.14 negotiates,
# including the v0 transaction APIs that 4.x no longer exercises in any client
# test suite we know of.
KAFKA_VERSION = "3.9.2"


def cache_dir() -> Path:
    root = os.environ.get("ORCHESTRATION_CACHE_DIR") or Path.home() / ".cache" / "orchestration"
    return Path(root)


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LocalStackError(
            f"'{tool}' is not installed; run `make bootstrap` "
            "(installs a JDK, Maven and PostgreSQL)"
        )
    return path


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Return the directory holding the broker's jars, fetching them once.

    A file lock serialises concurrent first runs (two test sessions, or the
    dev stack next to a test run): they would otherwise write the same jars.
    """
    home = cache_dir() / f"kafka-{version}"
    libs = home / "target" / "kafka-libs"
    # Written after Maven finished: a half-copied directory never passes.
    marker = home / ".complete"
    if marker.exists():
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return libs
        pom = resources.files("compose").joinpath("kafka/pom.xml").read_text()
        (home / "pom.xml").write_text(pom)
        mvn = _require("mvn")
        run(
            [mvn, "-B", "-q", "-f", str(home / "pom.xml"), f"-Dkafka.version={version}", "package"],
            what="fetching the Kafka jars with Maven",
            timeout=900,
        )
        marker.touch()
    return libs


_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
num.partitions=1
auto.create.topics.enable=false
# One broker: every internal topic has a single replica. One partition for the
# group and transaction state topics instead of 50 makes the first group join
# and the first transaction start in well under a second.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
# The default 3 s delay before the first rebalance only slows tests down.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
# The default 128 MiB dedupe map is allocated up front and exhausts a small heap.
log.cleaner.dedupe.buffer.size=16777216
log.cleaner.backoff.ms=1000
"""

_LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
"""


class KafkaBroker(LocalServer):
    """Format, start and stop one broker in `workdir`.

    Use as a context manager, or call `start()` / `stop()`.
    """

    def __init__(
        self, workdir: Path | None = None, *, port: int | None = None, heap_mb: int = 512
    ) -> None:
        super().__init__(workdir, prefix="orchestration-kafka-", log_name="kafka.log")
        self.port = port or free_port()
        self.controller_port = free_port()
        self.heap_mb = heap_mb

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _jvm(self, libs: Path) -> list[str]:
        java = _require("java")
        return [
            java,
            f"-Xms{min(256, self.heap_mb)}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseSerialGC",
            # C1 only: the broker starts about twice as fast on two cores and
            # test traffic never needs C2-optimised code.
            "-XX:TieredStopAtLevel=1",
            "-XX:MaxMetaspaceSize=256m",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            "-cp",
            f"{libs}/*",
        ]

    def start(self, *, timeout: float = 120) -> str:
        libs = ensure_jars()
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self.workdir / "server.properties"
        props.write_text(
            _SERVER_PROPERTIES.format(
                port=self.port, controller=self.controller_port, data=self.workdir / "data"
            )
        )
        (self.workdir / "log4j.properties").write_text(_LOG4J)
        # A KRaft cluster id is 16 random bytes in URL-safe base64 without
        # padding. One id in 64 starts with "-", which argparse takes for an
        # option: pass it as "--cluster-id=<id>".
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        format_storage = [
            *self._jvm(libs),
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",
            "-c",
            str(props),
            "--ignore-formatted",
        ]
        if not (self.workdir / "data" / "meta.properties").exists():  # else: kept, resume it
            try:
                run(format_storage, what="formatting the Kafka storage", timeout=120)
            except LocalStackError:
                # Seen twice on a loaded 2-core machine and never on a rerun: one
                # more try costs a JVM start, a failed test session costs more.
                run(format_storage, what="formatting the Kafka storage", timeout=120)
        self._mark_log()
        self._proc = spawn([*self._jvm(libs), "kafka.Kafka", str(props)], log=self.log)
        wait_until(
            lambda: port_open(self.port) and "to STARTED" in self.log_since_start(),
            proc=self._proc,
            timeout=timeout,
            what="Kafka broker",
            log=self.log,
        )
        return self.bootstrap_servers
