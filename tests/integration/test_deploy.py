"""Packaging invariants: the Kubernetes manifests (rendered by the pinned kustomize for each
overlay), ``docker-compose.yml`` and the ``Dockerfile``. No cluster or Docker engine is
needed: the rendered objects and parsed files are checked one by one.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.events import ANALYSIS_REQUESTS, ANC_REQUESTS, MEDIA_REQUESTS, TRANSCRIPTION_REQUESTS
from services.platform import SERVICES
from tests.integration import infra

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ["dev", "prod"]
GRPC_PORTS = {"auth": 50051, "transcription": 50052, "analysis": 50053, "anc": 50055}
WORKER_TOPICS = {
    "transcription": TRANSCRIPTION_REQUESTS,
    "analysis": ANALYSIS_REQUESTS,
    "media": MEDIA_REQUESTS,
    "anc": ANC_REQUESTS,
}
NAME = "app.kubernetes.io/name"


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [infra.kustomize(), "build", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


def pod_specs(overlay: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for o in render(overlay):
        if o["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            out.append((f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"]))
    return out


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_service_has_deployment_service_and_account(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    services = objects(overlay, "Service")
    accounts = objects(overlay, "ServiceAccount")
    assert set(deployments) == set(SERVICES)
    for name in SERVICES:
        spec = deployments[name]["spec"]
        assert name in services and name in accounts
        assert accounts[name].get("automountServiceAccountToken") is False
        assert spec["template"]["spec"]["serviceAccountName"] == name
        # The Service selects exactly this Deployment's pods, on ports the container opens.
        selector = services[name]["spec"]["selector"]
        labels = spec["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        container_ports = {p["name"] for p in spec["template"]["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in services[name]["spec"]["ports"]} <= container_ports
        assert spec["template"]["spec"]["containers"][0]["args"] == ["serve", name]


def test_every_container_is_locked_down(overlay: str) -> None:
    specs = pod_specs(overlay)
    assert len(specs) == len(SERVICES) + 1  # the services and the migrate Job
    for where, spec in specs:
        pod_ctx = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, where
        for c in spec["containers"] + spec.get("initContainers", []):
            ctx = c.get("securityContext", {})
            assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True, where
            assert (ctx.get("runAsUser") or pod_ctx.get("runAsUser") or 0) > 0, where
            assert ctx.get("readOnlyRootFilesystem") is True, where
            assert ctx.get("allowPrivilegeEscalation") is False, where
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], where
            assert pod_ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c.get("resources", {}).get(part, {})), (where, part)
            image = c["image"]
            assert "@sha256:" in image or re.search(r":[\w.-]+$", image.rsplit("/", 1)[-1]), image
            assert not image.endswith(":latest"), image
            # A read-only root needs a writable /tmp (EARSHOT_DATA_DIR lives there).
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, where


def test_probes_http_for_the_gateway_grpc_for_grpc_services(overlay: str) -> None:
    for name, deployment in objects(overlay, "Deployment").items():
        [c] = deployment["spec"]["template"]["spec"]["containers"]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert probe in c, (name, probe)
        ready, live = c["readinessProbe"], c["livenessProbe"]
        if name == "gateway":
            assert ready["httpGet"]["path"] == "/ready" and live["httpGet"]["path"] == "/livez"
        elif name in GRPC_PORTS:
            assert ready["grpc"]["port"] == live["grpc"]["port"] == GRPC_PORTS[name], name
            assert GRPC_PORTS[name] in {p["containerPort"] for p in c["ports"]}
        else:  # a Kafka worker without a server: its metrics port answers once started
            assert ready["httpGet"]["port"] == live["tcpSocket"]["port"] == "metrics", name
        assert ready != live, name  # kube-score: identical probes restart a merely busy pod


def test_every_container_requests_and_limits_ephemeral_storage(overlay: str) -> None:
    for where, spec in pod_specs(overlay):
        for c in spec["containers"]:
            assert "ephemeral-storage" in c["resources"]["requests"], where
            assert "ephemeral-storage" in c["resources"]["limits"], where


def test_keda_reaches_kafka_by_its_fully_qualified_name(overlay: str) -> None:
    namespace = "earshot-dev" if overlay == "dev" else "earshot"
    for name, obj in objects(overlay, "ScaledObject").items():
        servers = obj["spec"]["triggers"][0]["metadata"]["bootstrapServers"]
        assert servers == f"kafka.{namespace}.svc.cluster.local:9092", name
    # the HPA alone sets the gateway's replica count
    assert "replicas" not in objects(overlay, "Deployment")["gateway"]["spec"]


def test_settings_come_from_a_configmap_and_a_secret(overlay: str) -> None:
    configmaps = objects(overlay, "ConfigMap")
    secrets = objects(overlay, "Secret")
    [config] = [c for n, c in configmaps.items() if n.startswith("earshot-config")]
    assert config["data"]["EARSHOT_BUS_URL"].startswith("kafka://")
    assert "EARSHOT_DATABASE_URL" not in config["data"]  # credentials never in a ConfigMap
    for where, spec in pod_specs(overlay):
        refs = spec["containers"][0]["envFrom"]
        assert any(r.get("configMapRef", {}).get("name") == config["metadata"]["name"] for r in refs), where
        secret_refs = [r["secretRef"]["name"] for r in refs if "secretRef" in r]
        assert len(secret_refs) == 1, where
        if overlay == "dev":  # generated from secrets.env; prod takes it from a secret store
            assert secret_refs[0] in secrets
            assert set(secrets[secret_refs[0]]["data"]) >= {"EARSHOT_DATABASE_URL", "EARSHOT_STORAGE_URL"}
        else:
            assert secret_refs[0] == "earshot-secrets" and not secrets


def test_gateway_hpa_and_workers_scale_on_consumer_lag(overlay: str) -> None:
    [hpa] = objects(overlay, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    [config] = objects(overlay, "ConfigMap").values()
    partitions = int(config["data"]["EARSHOT_BUS_PARTITIONS"])
    scaled = objects(overlay, "ScaledObject")
    assert set(scaled) == set(WORKER_TOPICS)
    for name, obj in scaled.items():
        assert obj["spec"]["scaleTargetRef"]["name"] == name
        [trigger] = obj["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == name
        assert trigger["metadata"]["topic"] == WORKER_TOPICS[name]
        assert obj["spec"]["maxReplicaCount"] <= partitions  # more replicas than partitions idle


def test_network_policies_deny_all_then_allow_each_service(overlay: str) -> None:
    policies = objects(overlay, "NetworkPolicy")
    deny = policies["default-deny-all"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert deny.get("ingress", []) == [] and deny.get("egress", []) == []
    selected = {p["spec"]["podSelector"].get("matchLabels", {}).get(NAME) for p in policies.values()}
    assert set(SERVICES) | {"migrate"} <= selected
    # gRPC services accept their port from the gateway only.
    for name, port in GRPC_PORTS.items():
        rules = policies[name]["spec"]["ingress"]
        grpc_rules = [r for r in rules if any(p["port"] == port for p in r["ports"])]
        assert [r["from"] for r in grpc_rules] == [[{"podSelector": {"matchLabels": {NAME: "gateway"}}}]]
    # Every service reaches Kafka, PostgreSQL and MinIO; the migration job only PostgreSQL.
    for name in SERVICES:
        ports = {p["port"] for r in policies[name]["spec"]["egress"] for p in r["ports"]}
        assert {9092, 5432, 9000} <= ports, name
    assert {p["port"] for r in policies["migrate"]["spec"]["egress"] for p in r["ports"]} == {5432}


def test_migrations_are_a_job_and_infrastructure_is_external(overlay: str) -> None:
    [job] = objects(overlay, "Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    services = objects(overlay, "Service")
    for name in ("kafka", "postgres", "minio"):
        assert services[name]["spec"]["type"] == "ExternalName"
    assert not objects(overlay, "StatefulSet")  # nothing stateful is run by these manifests
    assert not objects(overlay, "PersistentVolumeClaim")


def test_overlays_differ_where_they_should() -> None:
    assert {o["metadata"].get("namespace") for o in render("dev") if o["kind"] != "Namespace"} == {
        "earshot-dev"
    }
    assert {o["metadata"].get("namespace") for o in render("prod") if o["kind"] != "Namespace"} == {"earshot"}
    assert objects("prod", "HorizontalPodAutoscaler")["gateway"]["spec"]["minReplicas"] >= 2
    deployments = objects("prod", "Deployment")
    assert set(objects("prod", "PodDisruptionBudget")) == set(deployments)  # one PDB per service
    for name, obj in deployments.items():
        assert name == "gateway" or obj["spec"]["replicas"] >= 2, name  # the gateway: its HPA
        pod = obj["spec"]["template"]["spec"]
        [term] = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname", name
        assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
    assert {o["spec"]["minReplicaCount"] for o in objects("prod", "ScaledObject").values()} == {2}
    dev_cfg = next(iter(objects("dev", "ConfigMap").values()))["data"]
    prod_cfg = next(iter(objects("prod", "ConfigMap").values()))["data"]
    assert (dev_cfg["EARSHOT_BUS_REPLICATION"], prod_cfg["EARSHOT_BUS_REPLICATION"]) == ("1", "3")


# --- docker-compose.yml and Dockerfile ------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text()))


def test_compose_runs_infrastructure_migration_and_six_services() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "postgres", "minio", "migrate", *SERVICES}
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert "KAFKA_ZOOKEEPER_CONNECT" not in services["kafka"]["environment"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("kafka", "postgres", "minio", *SERVICES):
        assert "healthcheck" in services[name], name
    for name in SERVICES:
        s = services[name]
        assert s["command"] == ["serve", name]
        deps = s["depends_on"]
        for infra_name in ("kafka", "postgres", "minio"):
            assert deps[infra_name] == {"condition": "service_healthy"}, name
        assert deps["migrate"] == {"condition": "service_completed_successfully"}, name
        assert s["read_only"] is True and s["cap_drop"] == ["ALL"]
        assert s["build"]["dockerfile"] == "Dockerfile"
    gateway_deps = services["gateway"]["depends_on"]
    assert {n for n in SERVICES if n != "gateway"} <= set(gateway_deps)
    for name, s in services.items():
        image = s.get("image", "")
        assert not image.endswith(":latest") and (":" in image), (name, image)
        for port in s.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)  # loopback only


def test_compose_variables_have_safe_defaults() -> None:
    text_ = (REPO / "docker-compose.yml").read_text()
    variables = re.findall(r"\$\{([^}]*)\}", text_)
    assert variables
    for v in variables:
        assert ":-" in v, f"${{{v}}} has no default"


def test_dockerfile_is_multi_stage_pinned_and_unprivileged() -> None:
    text_ = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text_, re.M)
    assert base and re.fullmatch(r"python:[\w.-]+@sha256:[0-9a-f]{64}", base.group(1))
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?$", text_, re.M)
    assert [s[1] for s in stages] == ["build", "runtime"]
    assert all(s[0] == "${PYTHON_IMAGE}" for s in stages)
    user = re.findall(r"^USER (\S+)$", text_, re.M)
    assert user and user[-1].split(":")[0] not in ("0", "root")
    # Dependencies in their own layer, before the sources are copied.
    assert text_.index("COPY pyproject.toml") < text_.index("COPY services")
    assert re.search(r'^ENTRYPOINT \["earshot"\]$', text_, re.M)
    ignored = [ln for ln in (REPO / ".dockerignore").read_text().splitlines() if ln and ln[0] != "#"]
    assert ignored[0] == "*"  # only what is allowed back in reaches the build context
    assert {"!pyproject.toml", "!services/", "!proto/"} <= set(ignored)


def test_operations_doc_lists_every_platform_setting() -> None:
    from services.common.settings import Settings

    doc = (REPO / "docs" / "operations.md").read_text()
    for name, info in Settings.model_fields.items():
        choices = getattr(info.validation_alias, "choices", None) or [f"EARSHOT_{name.upper()}"]
        assert f"`{choices[0]}" in doc, f"{choices[0]} is not documented in docs/operations.md"


# --- schema validation (kubeconform's job, with the schemas of the kubernetes-validate package) ---

CRD_KINDS = {"ScaledObject"}  # KEDA's custom resource: no schema in the package (checked above)


def test_rendered_overlays_are_valid_kubernetes_objects(overlay: str) -> None:
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for obj in render(overlay):
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)  # strict: unknown fields fail
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}") from None


def test_schema_validation_can_fail() -> None:
    import kubernetes_validate

    [deployment] = [
        o for o in render("dev") if o["kind"] == "Deployment" and o["metadata"]["name"] == "media"
    ]
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["ephemeral_storage"] = "1Gi"
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


# kube-score: ImagePullPolicy Always is not wanted (images are pinned by tag or digest).
# The dev overlay tells kube-score itself (``kube-score/ignore`` annotations) that a
# throwaway cluster runs one replica of each service with no PodDisruptionBudget.
KUBE_SCORE_IGNORED = ("container-image-pull-policy",)


def test_kube_score_finds_nothing(overlay: str) -> None:
    manifests = yaml.safe_dump_all(render(overlay))
    args = [infra.kube_score(), "score", "--output-format", "ci", "-"]
    for test in KUBE_SCORE_IGNORED:
        args[2:2] = ["--ignore-test", test]
    result = subprocess.run(args, input=manifests, capture_output=True, text=True, timeout=120)
    findings = [line for line in result.stdout.splitlines() if line.startswith(("[CRITICAL]", "[WARNING]"))]
    assert findings == [], "\n".join(findings)  # no warning either (anti-affinity, replicas, PDB)
    assert "[OK]" in result.stdout  # it did score the objects
