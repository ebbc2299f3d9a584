"""deploy/observability/: alert rules pass promtool (check and unit tests), the generated
PrometheusRule and Grafana dashboard are fresh, and every metric they name exists."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from services.common import metrics

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "deploy" / "observability"
ALERTS = (
    "EarshotConsumerLagGrowing",
    "EarshotEventsDeadLettered",
    "EarshotJobFailureRatioHigh",
    "EarshotHttp5xxRatioHigh",
    "EarshotHttpP99LatencyHigh",
)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_observability", ROOT / "scripts" / "gen_observability.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run scripts/install_promtool.sh (make test does)"
    return path


def _known_series() -> set[str]:
    names: set[str] = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            if family.type == "counter":
                names.add(family.name + "_total")
            elif family.type == "histogram":
                names.update(family.name + s for s in ("_bucket", "_count", "_sum"))
            else:
                names.add(family.name)
    return names


def _named(expr: str) -> set[str]:
    return set(re.findall(r"\bearshot_[a-z0-9_]+", expr))


def test_promtool_check_rules(promtool: str) -> None:
    out = subprocess.run(
        [promtool, "check", "rules", "prometheus-rules.yaml"], cwd=OBS, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(ALERTS)} rules found" in out.stdout


def test_promtool_test_rules(promtool: str) -> None:
    out = subprocess.run(
        [promtool, "test", "rules", "prometheus-rules.test.yaml"], cwd=OBS, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    shutil.copy(OBS / "prometheus-rules.yaml", tmp_path)
    text = (OBS / "prometheus-rules.test.yaml").read_text().replace("gateway: 10% of answers", "gateway: 1%")
    (tmp_path / "t.yaml").write_text(text)
    out = subprocess.run([promtool, "test", "rules", "t.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode != 0


def test_every_alert_is_tested_and_has_a_runbook() -> None:
    rules = yaml.safe_load((OBS / "prometheus-rules.yaml").read_text())
    names = [r["alert"] for g in rules["groups"] for r in g["rules"]]
    assert sorted(names) == sorted(ALERTS)
    tested = {
        t["alertname"]
        for case in yaml.safe_load((OBS / "prometheus-rules.test.yaml").read_text())["tests"]
        for t in case["alert_rule_test"]
        if t["exp_alerts"]
    }
    assert tested == set(ALERTS)
    operations = (ROOT / "docs" / "operations.md").read_text()
    for rule in (r for g in rules["groups"] for r in g["rules"]):
        assert f"\n### {rule['alert']}\n" in operations, rule["alert"]
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{rule['alert'].lower()}"


def test_generated_files_are_fresh() -> None:
    gen = _generator()
    assert (OBS / "prometheus-rule.yaml").read_text() == gen.prometheus_rule(), (
        "run scripts/gen_observability.py"
    )
    assert (OBS / "grafana-dashboard.json").read_text() == gen.render_dashboard(), (
        "run scripts/gen_observability.py"
    )


def test_every_metric_named_exists() -> None:
    known = _known_series()
    assert "earshot_consumer_lag" in known and "earshot_http_request_duration_seconds_bucket" in known
    rules = yaml.safe_load((OBS / "prometheus-rules.yaml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    board = json.loads((OBS / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for p in board["panels"] for t in p["targets"]]
    named = set().union(*(_named(e) for e in exprs))
    assert named and named <= known, named - known


def test_service_monitor_selects_the_services() -> None:
    monitor = yaml.safe_load((OBS / "service-monitor.yaml").read_text())
    assert monitor["kind"] == "ServiceMonitor"
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {"metrics", "http"}
    label = monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/part-of"]
    services = [
        doc
        for path in (ROOT / "deploy" / "k8s" / "base").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc
        and doc.get("kind") == "Service"
        and doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == label
    ]
    ports = {p["name"] for s in services for p in s["spec"]["ports"]}
    assert {"metrics", "http"} <= ports


def test_http_buckets_are_finer_around_a_second() -> None:
    bounds = metrics.HTTP_LATENCY_BUCKETS
    assert list(bounds) == sorted(bounds)
    assert 1 in bounds and len([b for b in bounds if 0.05 <= b <= 5]) >= 14
