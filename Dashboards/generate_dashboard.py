#!/usr/bin/env python3
"""Writes kube-scheduler-exporter.json, the Grafana dashboard, from the panel list below.

Keeping the dashboard as code makes layout, ids and the variable filter on every query
consistent; the JSON is committed so it imports as-is. A test fails when the two drift.
    generate_dashboard.py          rewrite the JSON
    generate_dashboard.py --check  exit 1 when the JSON is out of date
"""
import json
import os
import sys

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kube-scheduler-exporter.json")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Every per-target query is narrowed by the three template variables.
SEL = 'cluster=~"$cluster", job=~"$job", target=~"$target"'
# The exporter's own series carry no `target`.
EXP = 'cluster=~"$cluster", job=~"$job"'
HEALTH_PATHS = r'path!~"/(healthz|livez|readyz)([/?].*)?"'
INSECURE_TLS = r'version=~"TLSv1(\\.[01])?|SSL.*"'

GREEN_RED = [{"color": "green", "value": None}, {"color": "red", "value": 1}]
RED_GREEN = [{"color": "red", "value": None}, {"color": "green", "value": 1}]


def value_map(mapping):
    """mapping: {value: (text, color)}"""
    return [{"type": "value", "options": {
        str(k): {"text": text, "color": color, "index": i}
        for i, (k, (text, color)) in enumerate(mapping.items())}}]


def target(expr, legend="{{target}}", instant=False, table=False, ref="A"):
    t = {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}
    if instant:
        t.update(instant=True, range=False)
    if table:
        t.update(format="table", instant=True, range=False)
    return t


def stat(title, description, expr, steps, mappings=None, unit="none", legend="{{target}}", w=4):
    return {
        "type": "stat", "title": title, "description": description, "w": w, "h": 4,
        "targets": [target(expr, legend)],
        "fieldConfig": {"defaults": {
            "unit": unit, "color": {"mode": "thresholds"},
            "thresholds": {"mode": "absolute", "steps": steps},
            "mappings": mappings or []}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
                    "justifyMode": "auto", "orientation": "auto", "wideLayout": True,
                    "showPercentChange": False},
    }


def timeseries(title, description, targets, unit="short", w=12, h=8, stack=False, min_zero=True):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
              "spanNulls": False, "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}}
    if min_zero:
        defaults["min"] = 0
    return {
        "type": "timeseries", "title": title, "description": description, "w": w, "h": h,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                               "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def state_timeline(title, description, expr, legend, mapping, w=12, h=8):
    return {
        "type": "state-timeline", "title": title, "description": description, "w": w, "h": h,
        "targets": [target(expr, legend)],
        "fieldConfig": {"defaults": {"color": {"mode": "thresholds"},
                                     "thresholds": {"mode": "absolute", "steps": RED_GREEN},
                                     "mappings": value_map(mapping)}, "overrides": []},
        "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                    "alignValue": "left", "legend": {"showLegend": False},
                    "tooltip": {"mode": "single", "sort": "none"}},
    }


def table(title, description, expr, columns, overrides=(), w=12, h=8, sort_by=None):
    """columns: ordered label names to show; everything else is hidden."""
    order = {name: i for i, name in enumerate(columns)}
    return {
        "type": "table", "title": title, "description": description, "w": w, "h": h,
        "targets": [target(expr, "__auto", table=True)],
        "transformations": [{"id": "organize", "options": {
            "excludeByName": {"Time": True, "Value": True, "__name__": True, "instance": True,
                              "job": True},
            "indexByName": order, "renameByName": {}}},
            {"id": "filterFieldsByName", "options": {"include": {"names": list(columns)}}}],
        "fieldConfig": {"defaults": {"custom": {"align": "auto", "cellOptions": {"type": "auto"},
                                                "filterable": True}},
                        "overrides": list(overrides)},
        "options": {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"], "fields": ""},
                    "sortBy": [{"displayName": sort_by, "desc": False}] if sort_by else []},
    }


def color_cells(field, mapping):
    return {"matcher": {"id": "byName", "options": field}, "properties": [
        {"id": "mappings", "value": value_map(mapping)},
        {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}}]}


YES_BAD = {0: ("no", "green"), 1: ("YES", "red")}
ROWS = [
    ("Security posture", "Findings of the exporter's security checks per target: red means a finding.", [
        stat("Scheduler reachable", "kube_scheduler_up: 1 when the exporter's last poll of /metrics returned 200 and parsed.",
             f"kube_scheduler_up{{{SEL}}}", RED_GREEN, value_map({0: ("DOWN", "red"), 1: ("up", "green")})),
        stat("Failing CIS checks", "Number of security checks with status fail (recording rule kube_scheduler:security_checks_failing:count). Details in the table below.",
             f"sum by (target) (kube_scheduler:security_checks_failing:count{{{SEL}}})", GREEN_RED),
        stat("Profiling enabled", "kube_scheduler_profiling_enabled from any source (pprof, configz, flagz, manifest). CIS 1.4.1 wants --profiling=false.",
             f"max by (target) (kube_scheduler_profiling_enabled{{{SEL}}})", GREEN_RED, value_map(YES_BAD)),
        stat("Insecure port open", "kube_scheduler_insecure_port_open: a legacy plain-HTTP port answers.",
             f"max by (target) (kube_scheduler_insecure_port_open{{{SEL}}})", GREEN_RED, value_map(YES_BAD)),
        stat("Non-loopback bind", "kube_scheduler_nonloopback_bind: the secure port accepts TLS on a non-loopback address (CIS 1.4.2).",
             f"max by (target) (kube_scheduler_nonloopback_bind{{{SEL}}})", GREEN_RED, value_map(YES_BAD)),
        stat("Anonymous access", "kube_scheduler_anonymous_access on paths other than the health endpoints: an unauthenticated request got 200.",
             f"max by (target) (kube_scheduler_anonymous_access{{{SEL}, {HEALTH_PATHS}}})", GREEN_RED, value_map(YES_BAD)),
        stat("Authentication enforced", "kube_scheduler_authentication_enforced: an invalid bearer token gets 401.",
             f"min by (target) (kube_scheduler_authentication_enforced{{{SEL}}})", RED_GREEN,
             value_map({0: ("NO", "red"), 1: ("yes", "green")})),
        stat("TLS chain verified", "kube_scheduler_tls_verified: the serving certificate verifies against the configured CA, name included.",
             f"min by (target) (kube_scheduler_tls_verified{{{SEL}}})", RED_GREEN,
             value_map({0: ("NO", "red"), 1: ("yes", "green")})),
        stat("TLS version below 1.2", "kube_scheduler_tls_version_info: red when the negotiated version is SSL, TLS 1.0 or TLS 1.1.",
             f"max by (target) (kube_scheduler_tls_version_info{{{SEL}, {INSECURE_TLS}}}) "
             f"or max by (target) (kube_scheduler_tls_version_info{{{SEL}}}) * 0",
             GREEN_RED, value_map({0: ("TLS >= 1.2", "green"), 1: ("TLS < 1.2", "red")})),
        stat("Self-signed certificate", "kube_scheduler_tls_cert_self_signed: the leaf certificate signs itself (kube-scheduler's default when no --tls-cert-file is given).",
             f"max by (target) (kube_scheduler_tls_cert_self_signed{{{SEL}}})",
             [{"color": "green", "value": None}, {"color": "orange", "value": 1}],
             value_map({0: ("no", "green"), 1: ("yes", "orange")})),
        stat("Alpha feature gates", "kube_scheduler_alpha_features_enabled: enabled ALPHA feature gates.",
             f"max by (target) (kube_scheduler_alpha_features_enabled{{{SEL}}})",
             [{"color": "green", "value": None}, {"color": "orange", "value": 1}]),
        stat("Certificate expires in", "Time left until the serving certificate's notAfter (kube_scheduler:tls_cert_expires_in_seconds); orange below 30 days, red below 7.",
             f"min by (target) (kube_scheduler:tls_cert_expires_in_seconds{{{SEL}}})",
             [{"color": "red", "value": None}, {"color": "orange", "value": 604800},
              {"color": "green", "value": 2592000}], unit="dtdurations"),
        table("Security checks", "Every check of kube_scheduler_security_check with its current status and CIS benchmark id.",
              f"kube_scheduler_security_check{{{SEL}}} == 1",
              ["target", "cis_id", "check", "severity", "status"],
              [color_cells("status", {"fail": ("fail", "red"), "pass": ("pass", "green"),
                                      "unknown": ("unknown", "orange")})], w=16, h=10, sort_by="status"),
        timeseries("Findings by severity", "kube_scheduler_security_findings: failing checks by severity over time.",
                   [target(f"sum by (severity) (kube_scheduler_security_findings{{{SEL}}})", "{{severity}}")],
                   w=8, h=10, stack=True),
    ]),
    ("TLS", "The scheduler's serving certificate and handshake.", [
        timeseries("Certificate lifetime left", "Seconds until notAfter of the serving certificate, per target.",
                   [target(f"kube_scheduler:tls_cert_expires_in_seconds{{{SEL}}}")], unit="dtdurations", min_zero=False),
        table("Negotiated TLS and HTTP versions", "kube_scheduler_tls_version_info and kube_scheduler_http_version_info of the last /metrics poll.",
              f'label_replace(kube_scheduler_tls_version_info{{{SEL}}}, "protocol", "TLS", "", "") '
              f'or label_replace(kube_scheduler_http_version_info{{{SEL}}}, "protocol", "HTTP", "", "")',
              ["target", "protocol", "version"]),
    ]),
    ("Health", "/healthz, /livez and /readyz of each scheduler, per endpoint and per check.", [
        state_timeline("Health endpoints", "kube_scheduler_health_status: 1 when the endpoint answered 200.",
                       f"kube_scheduler_health_status{{{SEL}}}", "{{target}} /{{endpoint}}",
                       {0: ("failing", "red"), 1: ("ok", "green")}),
        state_timeline("Health checks", "kube_scheduler_health_check_status: each [+]/[-] line of the ?verbose bodies.",
                       f"kube_scheduler_health_check_status{{{SEL}}}", "{{target}} {{endpoint}}/{{check}}",
                       {0: ("failed", "red"), 1: ("ok", "green")}),
        timeseries("Endpoint HTTP status", "kube_scheduler_endpoint_http_status: status code of the last request per endpoint (0 = no response; 403/404 on pprof, flagz or statusz can be expected).",
                   [target(f"kube_scheduler_endpoint_http_status{{{SEL}}}", "{{target}} {{endpoint}}")], unit="none"),
        timeseries("Endpoint request duration", "kube_scheduler_endpoint_duration_seconds: duration of the last request per endpoint.",
                   [target(f"kube_scheduler_endpoint_duration_seconds{{{SEL}}}", "{{target}} {{endpoint}}")], unit="s"),
    ]),
    ("Leadership", "Leader election among the scheduler replicas.", [
        stat("Leader", "kube_scheduler_leader: 1 when this instance holds the kube-scheduler lease.",
             f"max by (target, instance) (kube_scheduler_leader{{{SEL}}})",
             [{"color": "blue", "value": None}, {"color": "green", "value": 1}],
             value_map({0: ("standby", "blue"), 1: ("leader", "green")}), legend="{{target}} {{instance}}", w=8),
        stat("Leaders per cluster", "Instances that report leading, per cluster: exactly 1 is healthy, 0 means nothing is scheduled.",
             f'sum by (cluster) (kube_scheduler_leader{{{EXP}}})',
             [{"color": "red", "value": None}, {"color": "green", "value": 1}, {"color": "red", "value": 2}],
             legend="{{cluster}}", w=4),
        table("Scheduler build", "kube_scheduler_build_info: version of each kube-scheduler.",
              f"kube_scheduler_build_info{{{SEL}}}", ["target", "git_version", "git_commit", "go_version", "platform"], w=12, h=4),
    ]),
    ("Scheduling performance", "Windowed latency quantiles and rates derived by the exporter from the scheduler's histograms and counters.", [
        timeseries("Scheduling attempt latency", "kube_scheduler_scheduling_latency_seconds{kind=\"attempt\"}: p50/p90/p99 of one scheduling attempt.",
                   [target(f'kube_scheduler_scheduling_latency_seconds{{{SEL}, kind="attempt"}}', "{{target}} p{{quantile}} {{result}}")],
                   unit="s", w=8),
        timeseries("Pod end-to-end latency", "kube_scheduler_scheduling_latency_seconds{kind=\"pod_e2e\"}: p50/p90/p99 from first attempt to bound, across retries.",
                   [target(f'kube_scheduler_scheduling_latency_seconds{{{SEL}, kind="pod_e2e"}}', "{{target}} p{{quantile}} {{result}}")],
                   unit="s", w=8),
        timeseries("Algorithm latency", "kube_scheduler_scheduling_latency_seconds{kind=\"algorithm\"}: p50/p90/p99 of the filter+score algorithm.",
                   [target(f'kube_scheduler_scheduling_latency_seconds{{{SEL}, kind="algorithm"}}', "{{target}} p{{quantile}} {{result}}")],
                   unit="s", w=8),
        timeseries("Extension point latency p99", "kube_scheduler_extension_point_latency_seconds at the 0.99 quantile per framework extension point.",
                   [target(f'kube_scheduler_extension_point_latency_seconds{{{SEL}, quantile="0.99"}}', "{{target}} {{extension_point}}")],
                   unit="s"),
        timeseries("Schedule attempts by result", "kube_scheduler_schedule_attempts_rate: attempts per second by result (scheduled, unschedulable, error).",
                   [target(f"kube_scheduler_schedule_attempts_rate{{{SEL}}}", "{{target}} {{result}}")], unit="ops", stack=True),
        timeseries("Pending pods by queue", "kube_scheduler_pending_pods: pods waiting in each scheduling queue.",
                   [target(f"kube_scheduler_pending_pods{{{SEL}}}", "{{target}} {{queue}}")], stack=True, w=8),
        timeseries("Unschedulable pods", "kube_scheduler_unschedulable_pods: pods that no node fits right now.",
                   [target(f"kube_scheduler_unschedulable_pods{{{SEL}}}")], w=8),
        timeseries("Preemption attempts", "kube_scheduler_preemption_attempts_rate: preemption attempts per second.",
                   [target(f"kube_scheduler_preemption_attempts_rate{{{SEL}}}")], unit="ops", w=8),
    ]),
    ("Exporter self-health", "The exporter process and its polling.", [
        stat("Exporter up", "Prometheus's up for the exporter job: 0 means the exporter itself cannot be scraped.",
             f"up{{{EXP}}}", RED_GREEN, value_map({0: ("DOWN", "red"), 1: ("up", "green")}), legend="{{instance}}"),
        stat("Last successful poll", "Seconds since the last poll with kube_scheduler_up == 1.",
             f"time() - kube_scheduler_last_successful_poll_timestamp_seconds{{{SEL}}}",
             [{"color": "green", "value": None}, {"color": "orange", "value": 60}, {"color": "red", "value": 300}],
             unit="s"),
        timeseries("Poll duration", "kube_scheduler_poll_duration_seconds: wall time of the last poll cycle over all endpoints.",
                   [target(f"kube_scheduler_poll_duration_seconds{{{SEL}}}")], unit="s", w=8),
        timeseries("Poll errors", "Failed poll cycles per second by reason (kube_scheduler_poll_errors_total).",
                   [target(f"sum by (target, reason) (rate(kube_scheduler_poll_errors_total{{{SEL}}}[$__rate_interval]))",
                           "{{target}} {{reason}}")], unit="ops", w=8),
        timeseries("Exporter memory (RSS)", "process_resident_memory_bytes of the exporter.",
                   [target(f"process_resident_memory_bytes{{{EXP}}}", "{{instance}}")], unit="bytes", w=8),
        timeseries("Exporter CPU", "CPU seconds per second used by the exporter (process_cpu_seconds_total).",
                   [target(f"rate(process_cpu_seconds_total{{{EXP}}}[$__rate_interval])", "{{instance}}")],
                   unit="percentunit", w=8),
        timeseries("Scrapes served", "kube_scheduler_exporter_scrapes_total: scrapes of the exporter's /metrics per second by format.",
                   [target(f"sum by (instance, format) (rate(kube_scheduler_exporter_scrapes_total{{{EXP}}}[$__rate_interval]))",
                           "{{instance}} {{format}}")], unit="ops", w=8),
    ]),
]


def variable(name, label, query, description):
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "definition": query, "query": {"query": query, "refId": f"{name}-query", "qryType": 1},
            "refresh": 2, "sort": 1, "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "description": description, "hide": 0, "regex": "", "options": []}


def build():
    panels, next_id, y = [], 1, 0
    for title, description, row_panels in ROWS:
        panels.append({"type": "row", "title": title, "description": description, "collapsed": False,
                       "id": next_id, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        next_id, y = next_id + 1, y + 1
        x, row_height = 0, 0
        for panel in row_panels:
            panel = dict(panel)
            w, h = panel.pop("w"), panel.pop("h")
            if x + w > 24:
                x, y, row_height = 0, y + row_height, 0
            panel.update(id=next_id, datasource=DATASOURCE, gridPos={"h": h, "w": w, "x": x, "y": y})
            next_id, x, row_height = next_id + 1, x + w, max(row_height, h)
            panels.append(panel)
        y += row_height
    return {
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "description": "kube-scheduler security posture, health, leadership and scheduling latency from kube-scheduler-exporter.",
        "editable": True, "fiscalYearStartMonth": 0, "graphTooltip": 1, "id": None, "links": [],
        "panels": panels, "refresh": "30s", "schemaVersion": 39,
        "tags": ["kubernetes", "kube-scheduler", "security", "kube-scheduler-exporter"],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "includeAll": False, "multi": False, "refresh": 1, "regex": "",
             "options": [], "description": "Prometheus that scrapes kube-scheduler-exporter."},
            variable("cluster", "Cluster", "label_values(kube_scheduler_up, cluster)",
                     "The `cluster` label (external or relabelled); All also matches series without it."),
            variable("job", "Job", 'label_values(kube_scheduler_up{cluster=~"$cluster"}, job)',
                     "The Prometheus job scraping the exporter."),
            variable("target", "Target", 'label_values(kube_scheduler_up{cluster=~"$cluster", job=~"$job"}, target)',
                     "The scheduler target as named in the exporter's config."),
        ]},
        "time": {"from": "now-6h", "to": "now"}, "timepicker": {}, "timezone": "browser",
        "title": "kube-scheduler exporter", "uid": "kube-scheduler-exporter", "version": 1, "weekStart": "",
    }


def render():
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    rendered = render()
    if "--check" in argv:
        current = open(OUTPUT).read() if os.path.exists(OUTPUT) else ""
        if current != rendered:
            print("kube-scheduler-exporter.json is out of date: run Dashboards/generate_dashboard.py")
            return 1
        print("kube-scheduler-exporter.json matches generate_dashboard.py")
        return 0
    with open(OUTPUT, "w") as output:
        output.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
