"""A real Kubernetes control plane on loopback for the chart's tests: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, and kwok faking one node.

The binaries are built from the Go module proxy by `deploy/tools/build-kube-binaries.sh` into a cache outside git
(`$XDG_CACHE_HOME/mini-mpp/tools/kube-<version>/bin`), once per machine. Each start makes a fresh PKI (a CA, the
API server's certificate, an admin client certificate in `system:masters`, the service-account key) and an
empty etcd under `workdir`, and writes `workdir/kubeconfig` for helm and kubectl.

Nothing runs in the pods: kwok moves them through the stages of `deploy/tools/kwok-stages.yaml` (Running and
Ready at once; a Job's pod then succeeds), so Deployments roll out and helm's hook Jobs complete.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mpp_devstack._proc import DevstackError, free_port, port_open, stop_process, wait_until

# The version built and run; the build script takes it from the environment (its own default is the same).
KUBE_VERSION = "v1.35.4"
REPO_ROOT = Path(__file__).resolve().parents[4]
BUILD_SCRIPT = REPO_ROOT / "deploy" / "tools" / "build-kube-binaries.sh"
KWOK_STAGES = REPO_ROOT / "deploy" / "tools" / "kwok-stages.yaml"
SERVICE_RANGE = "10.96.0.0/16"
NODE_NAME = "kwok-node-0"
# kwok manages only the nodes carrying this annotation (the one we create).
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# Controllers the chart's objects need. Left out: node lifecycle (the fake node sends no heartbeat and would be
# tainted and drained after a minute), cloud, volume, certificate and bootstrap-token controllers.
CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "job-controller",
    "ttl-after-finished-controller",
    "garbage-collector-controller",
    "pod-garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "root-ca-certificate-publisher-controller",
    "disruption-controller",
    "horizontal-pod-autoscaler-controller",
    "endpointslice-controller",
    "resourcequota-controller",
)


def ensure_binaries(timeout: float = 3600.0) -> Path:
    """The folder of the control plane's binaries, built first when missing (minutes the first time)."""
    if not BUILD_SCRIPT.exists():
        raise DevstackError(f"{BUILD_SCRIPT} is missing")
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            env={**os.environ, "KUBE_VERSION": KUBE_VERSION},
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise DevstackError(f"building the control plane took over {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise DevstackError(f"{BUILD_SCRIPT.name} failed: {done.stderr.strip()[-1500:]}")
    return Path(done.stdout.strip().splitlines()[-1])


# --- a throwaway PKI -------------------------------------------------------------------------------------------


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_public: Path


def make_pki(directory: Path, days: int = 7) -> Pki:
    """A CA, the API server's certificate (loopback and the in-cluster names), an admin client certificate and
    the key that signs service-account tokens."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("mini-mpp kube CA"))
        .issuer_name(_name("mini-mpp kube CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def issue(
        subject: x509.Name, usage: x509.ObjectIdentifier, names: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    service_ip = ipaddress.IPv4Network(SERVICE_RANGE)[1]  # the `kubernetes` Service's address
    server_names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(service_ip),
        x509.DNSName("localhost"),
        *(
            x509.DNSName(n)
            for n in (
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            )
        ),
    ]
    server_cert, server_key = issue(_name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, server_names)
    admin_cert, admin_key = issue(
        _name("mini-mpp-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, []
    )
    service_account_key = ec.generate_private_key(ec.SECP256R1())

    pki = Pki(
        ca=directory / "ca.crt",
        server_cert=directory / "apiserver.crt",
        server_key=directory / "apiserver.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        service_account_key=directory / "sa.key",
        service_account_public=directory / "sa.pub",
    )
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.server_key, server_key)
    pki.admin_cert.write_bytes(admin_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.admin_key, admin_key)
    _write_key(pki.service_account_key, service_account_key)
    pki.service_account_public.write_bytes(
        service_account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


# --- the control plane -----------------------------------------------------------------------------------------


@dataclass
class LocalKubernetes:
    """One control plane under `workdir`, every port a free loopback port. `start()`, then `stop()`."""

    workdir: Path
    bin_dir: Path
    api_port: int = 0
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(
        default_factory=list, init=False, repr=False
    )
    _pki: Pki | None = field(default=None, init=False, repr=False)

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 120.0) -> LocalKubernetes:
        missing = [
            p
            for p in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
            if not (self.bin_dir / p).exists()
        ]
        if missing:
            raise DevstackError(f"missing in {self.bin_dir}: {', '.join(missing)} (run {BUILD_SCRIPT})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        pki = self._pki = make_pki(self.workdir / "pki")
        etcd_port, peer_port = free_port(), free_port()
        etcd_url, peer_url = f"http://127.0.0.1:{etcd_port}", f"http://127.0.0.1:{peer_port}"
        etcd = self._spawn(
            "etcd",
            "--name=mpp",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=mpp={peer_url}",
            "--unsafe-no-fsync",  # a throwaway store: nothing to keep across a crash
            "--log-level=warn",
        )
        self._wait("etcd", etcd, lambda: port_open(etcd_port), timeout)

        self.api_port = self.api_port or free_port()
        apiserver = self._spawn(
            "kube-apiserver",
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--cert-dir={self.workdir / 'pki'}",
            f"--tls-cert-file={pki.server_cert}",
            f"--tls-private-key-file={pki.server_key}",
            f"--client-ca-file={pki.ca}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_public}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_RANGE}",
            "--authorization-mode=RBAC",
            "--profiling=false",
            "--v=0",
        )
        self._write_kubeconfig(pki)
        self._wait("kube-apiserver", apiserver, self._ready, timeout)

        self._spawn(
            "kube-controller-manager",
            f"--kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",  # no metrics or health endpoint: nothing to bind, nothing to collide
            f"--controllers={','.join(CONTROLLERS)}",
            f"--root-ca-file={pki.ca}",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_RANGE}",
            "--profiling=false",
        )
        self._spawn(
            "kube-scheduler",
            f"--kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",
            "--profiling=false",
        )
        self._create_node()
        kwok = self._spawn(
            "kwok",
            f"--kubeconfig={self.kubeconfig}",
            f"--config={KWOK_STAGES}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={'='.join(KWOK_NODE_ANNOTATION)}",
            "--cidr=10.244.0.0/16",
            "--node-ip=10.240.0.10",
        )
        self._wait("the kwok node", kwok, self._node_ready, timeout)
        self._untaint_node()

    def stop(self) -> None:
        while self._processes:
            _, proc = self._processes.pop()  # the reverse of the start order: etcd last
            stop_process(proc, timeout=15)

    # --- helpers -------------------------------------------------------------------------------------------------

    def _spawn(self, program: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{program}.log").open("ab")
        try:
            proc = subprocess.Popen(
                [str(self.bin_dir / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # its own process group: stop_process ends it and its children
            )
        finally:
            log.close()
        self._processes.append((program, proc))
        return proc

    def _wait(
        self, what: str, proc: subprocess.Popen[bytes], check: Callable[[], bool], timeout: float
    ) -> None:
        program = next(name for name, p in self._processes if p is proc)

        def up() -> bool:
            if proc.poll() is not None:
                tail = (self.workdir / f"{program}.log").read_text(errors="replace").splitlines()[-30:]
                raise DevstackError(f"{program} exited with {proc.returncode}:\n" + "\n".join(tail))
            return check()

        wait_until(up, timeout, what, self.workdir / f"{program}.log")

    def _client(self) -> httpx.Client:
        assert self._pki is not None
        tls = ssl.create_default_context(cafile=str(self._pki.ca))
        tls.load_cert_chain(str(self._pki.admin_cert), str(self._pki.admin_key))
        return httpx.Client(base_url=self.server, verify=tls, timeout=5.0)

    def _ready(self) -> bool:
        try:
            with self._client() as client:
                return client.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def _create_node(self) -> None:
        key, value = KWOK_NODE_ANNOTATION
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": {key: value},
                "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "type": "kwok"},
            },
        }
        with self._client() as client:
            created = client.post("/api/v1/nodes", json=node)
        if created.status_code not in (201, 409):
            raise DevstackError(f"creating the fake node failed: {created.status_code} {created.text}")

    def _node_ready(self) -> bool:
        try:
            with self._client() as client:
                node = client.get(f"/api/v1/nodes/{NODE_NAME}").json()
        except httpx.HTTPError:
            return False
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _untaint_node(self) -> None:
        # The API server taints a new node not-ready until the node lifecycle controller sees it Ready; that
        # controller is left out (see CONTROLLERS), so the taint is lifted here once kwok reports the node Ready.
        with self._client() as client:
            patched = client.patch(
                f"/api/v1/nodes/{NODE_NAME}",
                content=json.dumps({"spec": {"taints": None}}),
                headers={"Content-Type": "application/merge-patch+json"},
            )
        if patched.status_code != 200:
            raise DevstackError(f"untainting the fake node failed: {patched.status_code} {patched.text}")

    def _write_kubeconfig(self, pki: Pki) -> None:
        # JSON is YAML: helm and kubectl read it as a kubeconfig.
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "local", "cluster": {"server": self.server, "certificate-authority": str(pki.ca)}}
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {"client-certificate": str(pki.admin_cert), "client-key": str(pki.admin_key)},
                }
            ],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        self.kubeconfig.chmod(0o600)


@contextmanager
def local_kubernetes(workdir: Path, bin_dir: Path | None = None) -> Iterator[LocalKubernetes]:
    """A started control plane for the `with` block; stopped and its files removed after."""
    cluster = LocalKubernetes(workdir, bin_dir or ensure_binaries())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    """`python -m mpp_devstack.kube`: build (when missing) and print the folder of the binaries."""
    try:
        print(ensure_binaries())
    except DevstackError as exc:
        raise SystemExit(str(exc)) from exc


if __name__ == "__main__":
    main()
