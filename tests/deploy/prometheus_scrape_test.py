#!/usr/bin/env python3
"""A real Prometheus (Debian's) scrapes a gateway and two workers started with the settings
of deploy/compose (compose.yaml's worker command and replicas, gateway.json,
prometheus.yml with the alert rules); the test asks Prometheus' HTTP API for the series and
labels the dashboard and the alerts rely on.

Only addresses change: every process listens on 127.0.0.1 with free ports, the workers are
jetserve-fake-worker (jetserve-worker's main with a scripted backend, so no model file is
needed), the gateway lists the two workers instead of resolving the compose service name,
and one worker reads its device telemetry from a fake Jetson Orin sysfs tree.

    JETSERVE_BINARY_DIR=build python3 tests/deploy/prometheus_scrape_test.py
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("JETSERVE_BINARY_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.dirname(__file__))
from config_test import queried_metric_names, read, rule_exprs  # noqa: E402

# Exported only through NVML (a discrete GPU) or with root's debugfs: absent here.
NOT_HERE = {"jetserve_device_gpu_memory_bytes", "jetserve_device_gpu_power_watts"}
CALLS = 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def fake_orin(root):
    write(f"{root}/sys/class/devfreq/17000000.gpu/device/load", "537\n")
    write(f"{root}/sys/class/devfreq/17000000.gpu/cur_freq", "918000000\n")
    write(f"{root}/sys/kernel/debug/bpmp/debug/clk/emc/rate", "2133000000\n")
    write(f"{root}/sys/kernel/debug/cactmon/mc_all", "426600\n")
    write(f"{root}/proc/meminfo", "MemTotal:       7620000 kB\nMemAvailable:   5000000 kB\n")
    hw = f"{root}/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1"
    write(f"{hw}/in1_label", "VDD_IN\n")
    write(f"{hw}/in1_input", "5000\n")
    write(f"{hw}/curr1_input", "1500\n")
    write(f"{root}/sys/class/thermal/thermal_zone0/type", "gpu-thermal\n")
    write(f"{root}/sys/class/thermal/thermal_zone0/temp", "45500\n")


class Process:
    def __init__(self, args, log):
        self.log = log
        self.out = open(log, "w")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_for(self, pattern, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            m = re.search(pattern, read(self.log))
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not in {self.log}:\n{read(self.log)}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.out.close()


class PrometheusScrapeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="js-prom-")
        cls.procs = []
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in reversed(cls.procs):
            p.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def start(cls):
        compose = yaml.safe_load(read(os.path.join(ROOT, "deploy/compose/compose.yaml")))
        worker = compose["services"]["worker-smollm2"]
        replicas = worker["deploy"]["replicas"]
        cls.telemetry_root = os.path.join(cls.dir, "orin")
        fake_orin(cls.telemetry_root)
        cls.workers = []  # (grpc address, metrics address)
        for i in range(replicas):
            args = list(worker["command"])
            for flag in ("--listen", "--metrics-listen"):
                args[args.index(flag) + 1] = "127.0.0.1:0"
            if i == 0:
                args.append(f"--telemetry-root={cls.telemetry_root}")
            p = Process([os.path.join(BIN, "tests/service/jetserve-fake-worker"), *args],
                        os.path.join(cls.dir, f"worker{i}.log"))
            cls.procs.append(p)
            grpc_addr = p.wait_for(r"listening on (\S+)").group(1)
            metrics_addr = p.wait_for(r"metrics on (\S+)").group(1)
            cls.workers.append((grpc_addr, metrics_addr))
        cls.model = args[args.index("--name") + 1]

        config = json.loads(read(os.path.join(ROOT, "deploy/compose/gateway.json")))
        config["listen"] = "127.0.0.1:0"
        config["metrics_listen"] = "127.0.0.1:0"
        (entry,) = [m for m in config["models"] if m["name"] == cls.model]
        entry["remote"] = {"addresses": [w[0] for w in cls.workers]}
        config_path = os.path.join(cls.dir, "gateway.json")
        write(config_path, json.dumps(config))
        gw_args = [a.replace("/etc/jetserve/gateway.json", config_path)
                   for a in compose["services"]["gateway"]["command"]]
        gw = Process([os.path.join(BIN, "bin/jetserve-gateway"), *gw_args],
                     os.path.join(cls.dir, "gateway.log"))
        cls.procs.append(gw)
        cls.gw_port = int(gw.wait_for(r'"event":"listening".*?"port":(\d+)').group(1))
        cls.gw_metrics_port = int(gw.wait_for(r'"event":"metrics_listening".*?"port":(\d+)').group(1))

        prom = yaml.safe_load(read(os.path.join(ROOT, "deploy/compose/prometheus.yml")))
        prom["global"]["scrape_interval"] = "1s"
        prom["global"]["evaluation_interval"] = "1s"
        prom["rule_files"] = [os.path.join(ROOT, "deploy/prometheus/alerts.yml")]
        jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
        jobs["jetserve-gateway"]["static_configs"] = [
            {"targets": [f"127.0.0.1:{cls.gw_metrics_port}"]}]
        del jobs["jetserve-worker"]["dns_sd_configs"]
        jobs["jetserve-worker"]["static_configs"] = [{"targets": [w[1] for w in cls.workers]}]
        prom_path = os.path.join(cls.dir, "prometheus.yml")
        write(prom_path, yaml.safe_dump(prom))
        cls.prom_port = free_port()
        p = Process(["prometheus", f"--config.file={prom_path}",
                     f"--storage.tsdb.path={os.path.join(cls.dir, 'data')}",
                     f"--web.listen-address=127.0.0.1:{cls.prom_port}"],
                    os.path.join(cls.dir, "prometheus.log"))
        cls.procs.append(p)
        p.wait_for(r"Server is ready to receive web requests")

        # Traffic: CALLS generations through the gateway, one call naming an unknown model.
        cli = os.path.join(BIN, "bin/jetserve")
        gateway = f"127.0.0.1:{cls.gw_port}"
        deadline = time.time() + 30
        while cls.query_value(f'jetserve_gateway_workers_up{{model="{cls.model}"}}') != replicas:
            if time.time() > deadline:
                raise AssertionError("workers never ready: " + read(gw.log))
            time.sleep(0.2)
        for _ in range(CALLS):
            r = subprocess.run([cli, "generate", "--gateway", gateway, "-m", cls.model,
                                "tokens=3"], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
        r = subprocess.run([cli, "generate", "--gateway", gateway, "-m", "no-such-model", "x"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1, r.stderr
        deadline = time.time() + 30
        while (cls.query_value(f'sum(jetserve_worker_generated_tokens_total{{model="{cls.model}"}})')
               != 3 * CALLS or cls.query_value(
                   'sum(jetserve_gateway_requests_total{model="_unknown"})') != 1):
            if time.time() > deadline:
                raise AssertionError("the calls never showed up in Prometheus")
            time.sleep(0.3)

    @classmethod
    def api(cls, path, **params):
        url = f"http://127.0.0.1:{cls.prom_port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    @classmethod
    def query(cls, expr):
        """{frozenset(labels): value} of an instant query."""
        data = cls.api("query", query=expr)
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in data["result"]}

    @classmethod
    def query_value(cls, expr):
        result = cls.query(expr)
        return next(iter(result.values())) if len(result) == 1 else None

    def test_targets_up_with_job_and_instance(self):
        self.assertEqual(self.query('up{job="jetserve-gateway"}'), {
            frozenset({"__name__": "up", "job": "jetserve-gateway",
                       "instance": f"127.0.0.1:{self.gw_metrics_port}"}.items()): 1.0})
        self.assertEqual(self.query('up{job="jetserve-worker"}'), {
            frozenset({"__name__": "up", "job": "jetserve-worker", "instance": w[1]}.items()): 1.0
            for w in self.workers})

    def test_gateway_series(self):
        m = self.model
        self.assertEqual(self.query_value(
            f'sum(jetserve_gateway_requests_total{{model="{m}", method="Generate", code="OK"}})'),
            CALLS)
        self.assertEqual(self.query_value(
            'jetserve_gateway_requests_total{model="_unknown", method="Generate", code="NOT_FOUND"}'),
            1)
        self.assertEqual(self.query_value(f'jetserve_gateway_workers_up{{model="{m}"}}'), 2)
        self.assertEqual(self.query_value(
            f'sum(jetserve_gateway_request_duration_seconds_count{{model="{m}"}})'), CALLS)
        for name in ("jetserve_gateway_queue_depth", "jetserve_gateway_requests_in_flight"):
            self.assertEqual(self.query_value(f'{name}{{model="{m}"}}'), 0, name)

    def test_worker_series_spread_over_both_workers(self):
        m = self.model
        per_instance = self.query(
            f'sum by (instance) (jetserve_worker_requests_total{{model="{m}", method="Generate", code="OK"}})')
        self.assertEqual(sorted(per_instance.values()), [CALLS / 2, CALLS / 2])
        self.assertEqual(self.query_value(
            f'sum(jetserve_worker_time_to_first_token_seconds_count{{model="{m}"}})'), CALLS)
        # The TTFT alert reads the bucket le="2.5": that exact label value must exist.
        self.assertEqual(len(self.query(
            f'jetserve_worker_time_to_first_token_seconds_bucket{{model="{m}", le="2.5"}}')), 2)
        self.assertEqual(self.query_value(
            f'sum(jetserve_worker_time_per_output_token_seconds_count{{model="{m}"}})'), 2 * CALLS)

    def test_device_telemetry_from_the_fake_orin(self):
        inst = self.workers[0][1]
        self.assertEqual(self.query_value(
            f'jetserve_device_gpu_load_ratio{{instance="{inst}", gpu="17000000.gpu"}}'), 0.537)
        self.assertEqual(self.query_value(
            f'jetserve_device_gpu_frequency_hz{{instance="{inst}"}}'), 918e6)
        self.assertAlmostEqual(self.query_value(
            f'jetserve_device_emc_load_ratio{{instance="{inst}"}}'), 0.2, places=12)
        self.assertEqual(self.query_value(
            f'jetserve_device_rail_power_watts{{instance="{inst}", rail="VDD_IN"}}'), 7.5)
        self.assertEqual(self.query_value(
            f'jetserve_device_temperature_celsius{{instance="{inst}", zone="gpu-thermal"}}'), 45.5)
        self.assertEqual(self.query_value(
            f'jetserve_device_ram_bytes{{instance="{inst}", state="total"}}'), 7620000 * 1024)

    def test_worker_exposition_with_telemetry_passes_promtool(self):
        with urllib.request.urlopen(f"http://{self.workers[0][1]}/metrics", timeout=10) as r:
            text = r.read().decode()
        self.assertIn("jetserve_device_rail_power_watts", text)
        lint = subprocess.run(["promtool", "check", "metrics"], input=text,
                              capture_output=True, text=True)
        self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)

    def test_rules_loaded_and_evaluated(self):
        deadline = time.time() + 20
        while True:
            rules = [r for g in self.api("rules")["groups"] for r in g["rules"]]
            if all(r.get("lastEvaluation", "").startswith("20") for r in rules) or \
                    time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(len(rules), 7)
        for r in rules:
            self.assertEqual(r["health"], "ok", r)
            self.assertEqual(r["type"], "alerting")

    def test_every_queried_metric_exists(self):
        names = set(self.api("label/__name__/values"))
        families = {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}
        dash = json.loads(read(os.path.join(ROOT, "deploy/grafana/dashboards/jetserve.json")))
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        exprs += rule_exprs(yaml.safe_load(read(os.path.join(ROOT, "deploy/prometheus/alerts.yml")))["groups"])
        queried = set().union(*(queried_metric_names(e) for e in exprs))
        missing = queried - families - NOT_HERE
        self.assertEqual(missing, set())


if __name__ == "__main__":
    unittest.main(verbosity=2)
