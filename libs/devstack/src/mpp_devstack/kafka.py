"""A real Apache Kafka 4.x broker (KRaft, single node) run from its Maven Central jars.

The jars are resolved by Maven from `deploy/local/kafka/pom.xml` into a cache outside git
(`$XDG_CACHE_HOME/mini-mpp/kafka-<version>`, default `~/.cache/...`), once per machine. The broker formats its
storage on first start (`kafka.tools.StorageTool format --standalone`) and runs `kafka.Kafka server.properties`.

By default its client listener is PLAINTEXT. With `BrokerSecurity` it is SASL_SSL (or SASL_PLAINTEXT) with SCRAM
users added at format time and a certificate from a private CA (`mpp_devstack.certificates`), as a secured
cluster is: tests prove with it that every Kafka client of the kit connects through `mpp_kit.kafka_security`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from mpp_devstack._proc import DevstackError, free_port, port_open, stop_process, wait_until
from mpp_devstack.certificates import ServerCertificate, make_server_certificate

REPO_ROOT = Path(__file__).resolve().parents[4]
POM = REPO_ROOT / "deploy" / "local" / "kafka" / "pom.xml"


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if not match:
        raise DevstackError(f"{POM} does not declare <kafka.version>")
    return match.group(1)


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mini-mpp" / f"kafka-{kafka_version()}"


def _check_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise DevstackError(
            "Java 17+ is needed to run the local Kafka broker and `java` is not on PATH. Install a JDK "
            "(for example `apt-get install openjdk-17-jre-headless`), or point KAFKA_BOOTSTRAP_SERVERS at an "
            "existing Kafka 4.x broker."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise DevstackError(
            f"Kafka 4.x needs Java 17+, found: {out.splitlines()[0] if out else 'unknown'}. "
            "Install a newer JDK or set KAFKA_BOOTSTRAP_SERVERS to an existing broker."
        )
    return java


def ensure_jars() -> Path:
    """Resolve the broker's jars through Maven into the cache (a no-op once cached)."""
    libs = cache_dir() / "libs"
    marker = cache_dir() / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DevstackError(
            "Maven (`mvn`) is needed once to fetch the Kafka jars from Maven Central and is not on PATH. "
            "Install it (`apt-get install maven`) or set KAFKA_BOOTSTRAP_SERVERS to an existing broker."
        )
    libs.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        raise DevstackError(
            f"Maven could not assemble Apache Kafka from {POM}:\n{result.stdout}\n{result.stderr}"
        )
    marker.write_text(kafka_version())
    return libs


LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = {level}
"""


SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass
class BrokerSecurity:
    """A secured client listener: SCRAM users (name -> password, both mechanisms), over TLS unless `tls=False`."""

    users: dict[str, str]
    tls: bool = True
    _broker_password: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    certificate: ServerCertificate | None = field(default=None, init=False, repr=False)

    @property
    def protocol(self) -> str:
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    @property
    def ca_file(self) -> Path:
        if self.certificate is None:
            raise DevstackError("the broker has not started: no certificate yet")
        return self.certificate.ca_file

    def format_arguments(self) -> list[str]:
        """`--add-scram` for every user and both mechanisms, and for the broker's own inter-broker user."""
        users = {**self.users, "broker": self._broker_password}
        return [
            argument
            for name, password in users.items()
            for mechanism in SCRAM_MECHANISMS
            for argument in ("--add-scram", f"{mechanism}=[name={name},password={password}]")
        ]

    def properties(self, workdir: Path) -> list[str]:
        listener = self.protocol.lower()
        lines = [
            f"inter.broker.listener.name={self.protocol}",
            f"sasl.enabled.mechanisms={','.join(SCRAM_MECHANISMS)}",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            # Each enabled mechanism needs its login entry; the broker's own user signs in with SCRAM-SHA-512.
            *(
                f"listener.name.{listener}.{mechanism.lower()}.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="broker" password="{self._broker_password}";'
                for mechanism in SCRAM_MECHANISMS
            ),
        ]
        if self.tls:
            self.certificate = self.certificate or make_server_certificate(workdir / "tls")
            lines += [
                "ssl.keystore.type=PEM",
                f"ssl.keystore.location={self.certificate.key_and_chain_file}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={self.certificate.ca_file}",
            ]
        return lines


@dataclass
class LocalKafka:
    """One broker+controller in one JVM, on free loopback ports, data and logs under `workdir`.

    `start()` again after `stop()` or `kill()` brings the same broker back: same ports, same data directory.
    """

    workdir: Path
    port: int = 0
    controller_port: int = 0  # kept across starts: the controller's address is part of the formatted quorum
    heap: str = "512m"
    partitions: int = 3
    security: BrokerSecurity | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "kafka.log"

    def start(self, timeout: float = 90.0) -> LocalKafka:
        java = _check_java()
        libs = ensure_jars()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.controller_port = controller_port = self.controller_port or free_port()
        data = self.workdir / "data"
        props = self.workdir / "server.properties"
        listener = self.security.protocol if self.security else "PLAINTEXT"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}",
                    f"listeners={listener}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller_port}",
                    f"advertised.listeners={listener}://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    f"listener.security.protocol.map=CONTROLLER:PLAINTEXT,{listener}:{listener}",
                    *(self.security.properties(self.workdir) if self.security else []),
                    f"log.dirs={data}",
                    f"num.partitions={self.partitions}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=3",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    # A single local broker: do not make every new consumer group wait 3 s for more members.
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "",
                ]
            )
        )
        log4j = self.workdir / "log4j2.properties"
        log4j.write_text(LOG4J2.format(log=self.log_file, level="INFO"))
        classpath = f"{libs}/*"
        if not (data / "meta.properties").exists():
            cluster_id = _cluster_id()
            fmt = subprocess.run(
                [
                    java,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(props),
                    "--standalone",
                    *(self.security.format_arguments() if self.security else []),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise DevstackError(f"formatting Kafka storage failed:\n{fmt.stdout}\n{fmt.stderr}")
        # The log is appended to: on a start again only what this start writes says it is up.
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        with open(self.workdir / "kafka.stdout", "ab") as out:
            self._proc = subprocess.Popen(
                [
                    java,
                    f"-Xmx{self.heap}",
                    f"-Xms{self.heap}",
                    "-XX:+UseSerialGC",
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    classpath,
                    "kafka.Kafka",
                    str(props),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = self._proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise DevstackError(f"Kafka exited with code {proc.returncode}; see {self.log_file}")
            return port_open(self.port) and "Kafka Server started" in _read_from(self.log_file, log_start)

        wait_until(ready, timeout, "Kafka broker", self.log_file)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would: nothing flushed, no controlled shutdown. `start()` brings it back."""
        if self._proc is not None:
            if self._proc.poll() is None:
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)
            self._proc = None


def _read_from(path: Path, offset: int) -> str:
    if not path.exists():
        return ""
    with open(path, "rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _cluster_id() -> str:
    # Kafka cluster ids are 16 random bytes in URL-safe base64 without padding (what `random-uuid` prints).
    import base64

    # One in 64 starts with "-", which the storage tool's argument parser takes for an option: draw again.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
