#!/usr/bin/env python3
"""Writes deploy/grafana/dashboards/jetserve.json, the jetserve Grafana dashboard.

The dashboard is generated so that its queries stay readable here; edit this file and run
it (tests/deploy checks that the committed JSON is its output and that every metric it
queries is one jetserve exports).

    python3 deploy/grafana/make_dashboard.py
"""
import json
import os

DS = {"type": "prometheus", "uid": "${datasource}"}
SERVER_ERRORS = 'code=~"UNAVAILABLE|INTERNAL|UNKNOWN|DATA_LOSS|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED"'
M = 'model=~"$model"'
RI = "$__rate_interval"


def quantiles(metric, by="model", qs=(0.5, 0.95, 0.99)):
    return [(f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{M}}}[{RI}])))",
             f"{{{{{by}}}}} p{int(q * 100)}") for q in qs]


# (title, unit, [(expr, legend)], description)
ROWS = [
    ("Traffic", [
        ("Requests per second", "reqps",
         [(f"sum by (model, method) (rate(jetserve_gateway_requests_total{{{M}}}[{RI}]))",
           "{{model}} {{method}}")],
         "Calls finished by the gateway, by model and method."),
        ("Server error ratio", "percentunit",
         [(f"sum by (model) (rate(jetserve_gateway_requests_total{{{M}, {SERVER_ERRORS}}}[{RI}]))"
           f" / sum by (model) (rate(jetserve_gateway_requests_total{{{M}}}[{RI}]))", "{{model}}")],
         "Share of calls ending with a server-side gRPC code (alert: JetserveHighErrorRatio)."),
        ("Request latency (gateway)", "s", quantiles("jetserve_gateway_request_duration_seconds"),
         "From a call's arrival at the gateway to its final status, queueing included."),
    ]),
    ("Generation", [
        ("Time to first token", "s", quantiles("jetserve_worker_time_to_first_token_seconds"),
         "Generate calls: from the worker receiving the call to its first token "
         "(alert: JetserveTimeToFirstTokenObjective, 95% within 2.5 s)."),
        ("Time per output token", "s",
         quantiles("jetserve_worker_time_per_output_token_seconds"),
         "Time between consecutive tokens of one sequence."),
        ("Tokens per second", "short",
         [(f"sum by (model) (rate(jetserve_worker_generated_tokens_total{{{M}}}[{RI}]))",
           "{{model}} generated"),
          (f"sum by (model) (rate(jetserve_worker_prompt_tokens_total{{{M}}}[{RI}]))",
           "{{model}} prompt")],
         "Generated and prompt (prefill) tokens per second, all workers of a model."),
    ]),
    ("Load", [
        ("Queue depth", "short",
         [(f"sum by (model) (jetserve_gateway_queue_depth{{{M}}})", "{{model}} gateway queue"),
          (f"sum by (model) (jetserve_worker_requests_waiting{{{M}}})", "{{model}} waiting in workers")],
         "Calls waiting for a worker slot in the gateway, and for a batch slot in the workers "
         "(alert: JetserveQueueSaturated)."),
        ("Requests in flight", "short",
         [(f"sum by (model) (jetserve_gateway_requests_in_flight{{{M}}})", "{{model}} forwarded"),
          (f"sum by (model) (jetserve_worker_requests_running{{{M}}})", "{{model}} running")],
         "Calls forwarded to workers, and sequences the workers are running."),
        ("KV cache usage", "percentunit",
         [(f"jetserve_worker_kv_cache_usage_ratio{{{M}}}", "{{model}} {{instance}}")],
         "Share of each worker's KV cache in use (alert: JetserveKvCacheNearlyFull)."),
        ("Batch size", "short", quantiles("jetserve_worker_batch_size", qs=(0.5, 0.95)),
         "Sequences per decode step."),
        ("Preemptions", "short",
         [(f"sum by (model) (rate(jetserve_worker_preemptions_total{{{M}}}[{RI}]))", "{{model}}")],
         "Sequences preempted per second (KV cache exhausted)."),
    ]),
    ("Workers", [
        ("Ready workers", "short",
         [(f"jetserve_gateway_workers_up{{{M}}}", "{{model}}"),
          ('sum(up{job="jetserve-worker"})', "scraped workers up")],
         "Workers the gateway routes to (health SERVING), per model "
         "(alerts: JetserveModelUnavailable, JetserveWorkerDown)."),
        ("Worker restarts", "short",
         [(f"sum by (model) (increase(jetserve_gateway_worker_restarts_total{{{M}}}[1h]))",
           "{{model}}")],
         "Restarts of local worker processes in the last hour (alert: JetserveWorkerRestarting)."),
    ]),
    ("Device (Jetson sysfs, NVML)", [
        ("GPU load", "percentunit",
         [("jetserve_device_gpu_load_ratio", "{{instance}} {{gpu}}")],
         "GPU busy fraction: Jetson devfreq load, or NVML utilization on discrete GPUs."),
        ("GPU clock", "hertz",
         [("jetserve_device_gpu_frequency_hz", "{{instance}} {{gpu}}")], "Current GPU clock."),
        ("Memory bus (EMC)", "percentunit",
         [("jetserve_device_emc_load_ratio", "{{instance}} load")],
         "Jetson memory controller activity over its clock (needs debugfs, root)."),
        ("Memory", "bytes",
         [('jetserve_device_ram_bytes{state="total"} - on (instance) '
           'jetserve_device_ram_bytes{state="available"}', "{{instance}} RAM used"),
          ('jetserve_device_ram_bytes{state="total"}', "{{instance}} RAM total"),
          ('jetserve_device_gpu_memory_bytes{state="used"}', "{{instance}} {{gpu}} used")],
         "Jetson: RAM shared by CPU and GPU (MemTotal - MemAvailable). NVML: GPU memory."),
        ("Power", "watt",
         [("jetserve_device_rail_power_watts", "{{instance}} {{rail}}"),
          ("jetserve_device_gpu_power_watts", "{{instance}} {{gpu}}")],
         "Jetson INA3221 rails (voltage x current); NVML board power."),
        ("Temperatures", "celsius",
         [("jetserve_device_temperature_celsius", "{{instance}} {{zone}}")],
         "Thermal zones (sensors that are off are left out)."),
    ]),
]


def build():
    panels = []
    pid = 1
    y = 0
    for row_title, row_panels in ROWS:
        panels.append({"id": pid, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        pid += 1
        y += 1
        for i, (title, unit, targets, description) in enumerate(row_panels):
            panels.append({
                "id": pid,
                "type": "timeseries",
                "title": title,
                "description": description,
                "datasource": DS,
                "gridPos": {"h": 8, "w": 8, "x": 8 * (i % 3), "y": y + 8 * (i // 3)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                            "tooltip": {"mode": "multi"}},
                "targets": [{"refId": chr(ord("A") + k), "datasource": DS, "expr": expr,
                             "legendFormat": legend}
                            for k, (expr, legend) in enumerate(targets)],
            })
            pid += 1
        y += 8 * ((len(row_panels) + 2) // 3)
    return {
        "uid": "jetserve",
        "title": "jetserve",
        "tags": ["jetserve"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource",
             "query": "prometheus", "current": {}, "hide": 0},
            {"name": "model", "label": "Model", "type": "query", "datasource": DS,
             "query": {"query": "label_values(jetserve_gateway_requests_total, model)",
                       "refId": "model"},
             "definition": "label_values(jetserve_gateway_requests_total, model)",
             "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
             "current": {"text": "All", "value": "$__all"}, "sort": 1, "hide": 0},
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


def render():
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "dashboards", "jetserve.json"), "w") as f:
        f.write(render())
