"""Check deploy/ offline, as the test command does (scripts/lib/deploy.sh).

- Kubernetes: render each kustomization (`kubectl kustomize`), validate
  every object against the Kubernetes schemas bundled by kubernetes-validate
  (strict: unknown fields refused), and OpenShift's Route against the schema
  kept in deploy/kubernetes/schemas/; then the rules the manifests promise:
  probes, securityContext, resources, one replica with Recreate.
- Compose: parse deploy/compose.yaml with podman-compose (`config`), and
  check that every file it mounts, reads or names exists beside it.
- Monitoring: the Prometheus rules (deploy/prometheus/) and the Grafana
  dashboard (deploy/grafana/) are well formed, and every metric they use is
  one the binary exposes (bot/src/http/mod.rs), so a renamed metric cannot
  leave an alert that never fires.

Exit status 1 with one line per problem, naming the file and the object.
"""

import json
import os
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
K8S_VERSION = os.environ.get("KUBERNETES_VERSION", "1.30.0")
problems = []


def problem(where, what):
    problems.append(f"{where}: {what}")


def pod_specs(obj):
    kind = obj["kind"]
    if kind == "Deployment":
        return [obj["spec"]["template"]["spec"]]
    if kind == "CronJob":
        return [obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def check_rules(where, obj, openshift):
    kind, name = obj["kind"], obj["metadata"]["name"]
    here = f"{where} {kind}/{name}"
    if kind == "Deployment":
        if obj["spec"].get("replicas") != 1:
            problem(here, "one replica until the replicas issue lands")
        if obj["spec"].get("strategy", {}).get("type") != "Recreate":
            problem(here, "the Recreate strategy until the replicas issue lands")
    for spec in pod_specs(obj):
        sc = spec.get("securityContext", {})
        if sc.get("runAsNonRoot") is not True:
            problem(here, "pod securityContext.runAsNonRoot must be true")
        if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problem(here, "pod seccompProfile must be RuntimeDefault")
        if openshift and "runAsUser" in sc:
            problem(here, "OpenShift assigns the UID: no runAsUser")
        for c in spec["containers"]:
            csc = c.get("securityContext", {})
            cwhere = f"{here} container {c['name']}"
            if csc.get("readOnlyRootFilesystem") is not True:
                problem(cwhere, "readOnlyRootFilesystem must be true")
            if csc.get("allowPrivilegeEscalation") is not False:
                problem(cwhere, "allowPrivilegeEscalation must be false")
            if csc.get("capabilities", {}).get("drop") != ["ALL"]:
                problem(cwhere, "every capability must be dropped")
            res = c.get("resources", {})
            if "requests" not in res or "memory" not in res.get("limits", {}):
                problem(cwhere, "resources need requests and a memory limit")
            if kind == "Deployment":
                ready = c.get("readinessProbe", {}).get("httpGet", {}).get("path")
                live = c.get("livenessProbe", {}).get("httpGet", {}).get("path")
                if (ready, live) != ("/healthz", "/livez"):
                    problem(cwhere, f"readiness on /healthz and liveness on /livez (not {ready}, {live})")
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            if "/tmp" not in mounts:
                problem(cwhere, "a writable /tmp (emptyDir) under a read-only root")


def check_kubernetes():
    route_schema = json.load(open(os.path.join(K8S, "schemas", "route.openshift.io_v1_route.json")))
    for overlay in ("base", "openshift"):
        where = f"deploy/kubernetes/{overlay}"
        out = subprocess.run(["kubectl", "kustomize", os.path.join(K8S, overlay)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            problem(where, f"kubectl kustomize failed: {out.stderr.strip()}")
            continue
        objects = [o for o in yaml.safe_load_all(out.stdout) if o]
        kinds = {o["kind"] for o in objects}
        for needed in ("Deployment", "CronJob", "Service", "ConfigMap", "Secret",
                       "PodDisruptionBudget", "NetworkPolicy"):
            if needed not in kinds:
                problem(where, f"no {needed}")
        if overlay == "openshift" and "Route" not in kinds:
            problem(where, "no Route")
        for obj in objects:
            name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            if obj.get("apiVersion") == "route.openshift.io/v1":
                try:
                    jsonschema.validate(obj, route_schema)
                except jsonschema.ValidationError as e:
                    problem(f"{where} {name}", f"{e.message} at {'/'.join(map(str, e.absolute_path))}")
            else:
                try:
                    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
                except kubernetes_validate.ValidationError as e:
                    problem(f"{where} {name}", f"{e.message} at {'/'.join(map(str, e.path))}")
                except Exception as e:  # an unknown kind or version
                    problem(f"{where} {name}", str(e))
            check_rules(where, obj, overlay == "openshift")
        print(f"{where}: {len(objects)} objects rendered and validated (Kubernetes {K8S_VERSION})")


def check_compose():
    where = "deploy/compose.yaml"
    compose = os.path.join(DEPLOY, "compose.yaml")
    tool = os.path.join(os.path.dirname(sys.executable), "podman-compose")
    out = subprocess.run([tool, "-f", compose, "config"], capture_output=True, text=True)
    if out.returncode != 0:
        problem(where, f"podman-compose config failed: {out.stderr.strip()}")
        return
    doc = yaml.safe_load(out.stdout)
    def exists(path, what):
        full = path if os.path.isabs(path) else os.path.join(DEPLOY, path)
        if not os.path.exists(full):
            problem(where, f"{what} {path} does not exist")
    named = set(doc.get("volumes", {}) or {})
    for name, svc in doc["services"].items():
        for v in svc.get("volumes", []):
            source = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if source and source not in named:
                exists(source, f"service {name} mounts")
        for f in svc.get("env_file", []) or []:
            exists(f if isinstance(f, str) else f["path"], f"service {name} reads")
        build = svc.get("build")
        if build:
            ctx = build["context"] if isinstance(build, dict) else build
            exists(os.path.join(ctx, build.get("dockerfile", "Containerfile")), f"service {name} builds from")
    for name, s in (doc.get("secrets") or {}).items():
        exists(s["file"], f"secret {name}")
    # The settings file it mounts names a catalog: that must be mounted too.
    config = yaml.safe_load(open(compose))
    mounted = {}
    for svc in doc["services"].values():
        for v in svc.get("volumes", []):
            if isinstance(v, str) and v.count(":") >= 1:
                parts = v.split(":")
                mounted[parts[1]] = parts[0]
    toml_path = mounted.get("/etc/winventory/winventory.toml")
    if toml_path:
        import tomllib
        settings = tomllib.load(open(os.path.join(DEPLOY, toml_path), "rb"))
        catalog = settings.get("catalog")
        if catalog and catalog not in mounted:
            problem(where, f"the settings name the catalog {catalog}, which nothing mounts")
    print(f"{where}: parsed by podman-compose, {len(doc['services'])} services, every mounted file present")


def exposed_metrics():
    import re
    text = open(os.path.join(ROOT, "bot", "src", "http", "mod.rs")).read()
    return set(re.findall(r"# TYPE (winventory_[a-z_]+) ", text))


def used_metrics(expr):
    import re
    return set(re.findall(r"\b(winventory_[a-z_]+)", expr))


def check_monitoring():
    exposed = exposed_metrics()
    if not exposed:
        problem("bot/src/http/mod.rs", "no metric found (the check reads its # TYPE lines)")
    where = "deploy/prometheus/winventory-alerts.yaml"
    rules = yaml.safe_load(open(os.path.join(DEPLOY, "prometheus", "winventory-alerts.yaml")))
    count = 0
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            count += 1
            name = rule.get("alert", "?")
            for key in ("alert", "expr", "labels", "annotations"):
                if key not in rule:
                    problem(f"{where} {name}", f"no {key}")
            for m in used_metrics(rule.get("expr", "")) - exposed:
                problem(f"{where} {name}", f"{m} is not a metric the binary exposes")
            if "summary" not in rule.get("annotations", {}):
                problem(f"{where} {name}", "no summary annotation")
    where = "deploy/grafana/winventory-dashboard.json"
    dash = json.load(open(os.path.join(DEPLOY, "grafana", "winventory-dashboard.json")))
    panels = dash.get("panels", [])
    for panel in panels:
        for t in panel.get("targets", []):
            for m in used_metrics(t.get("expr", "")) - exposed:
                problem(f"{where} panel {panel.get('title')}", f"{m} is not a metric the binary exposes")
    print(f"deploy/prometheus, deploy/grafana: {count} alerts and {len(panels)} panels use only the {len(exposed)} metrics exposed")


check_kubernetes()
check_compose()
check_monitoring()
for p in problems:
    print(f"problem: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
