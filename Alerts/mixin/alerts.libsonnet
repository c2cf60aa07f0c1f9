// Alerts. Every alert links to its section of docs/runbook.md (runbook_url is added from
// _config.runbookURLPattern) and has promtool unit tests in Alerts/tests/; Alerts/check_coverage.py
// enforces both on the rendered rule file.
// Aggregations use `without (...)` rather than `by (...)` so that the `target`, cluster, `job`
// and any static per-target labels survive into the alert.
local lib = import 'lib.libsonnet';

{
  prometheusAlerts+:: {
    local f = lib.ruleFormat($._config),
    local group(name, rules) = { name: name, rules: lib.withRunbooks($._config, rules) },

    groups+: [
      group('kube-scheduler-security', [
        {
          alert: 'KubeSchedulerProfilingEnabled',
          expr: lib.expr('max without (source) (kube_scheduler_profiling_enabled%(sel)s) == 1', f),
          'for': '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'kube-scheduler profiling is enabled (CIS 1.4.1).',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} serves /debug/pprof. Profiling exposes goroutine
              stacks and heap contents to any identity allowed on /debug/pprof/* and costs CPU.
              Set `--profiling=false` in /etc/kubernetes/manifests/kube-scheduler.yaml
              (kubeadm: `scheduler.extraArgs.profiling: "false"`).
            |||),
          },
        },
        {
          alert: 'KubeSchedulerInsecurePortOpen',
          expr: lib.expr('kube_scheduler_insecure_port_open%(sel)s == 1', f),
          'for': '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler answers plain HTTP on port {{ $labels.port }}.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} answers unencrypted, unauthenticated HTTP on port
              {{ $labels.port }}. Anyone who reaches the port can read metrics or profiles.
              Remove `--port` / `--address` from the scheduler manifest (the legacy insecure port
              was removed in v1.23; an answering port means an old build or a proxy in front of it).
            |||),
          },
        },
        {
          alert: 'KubeSchedulerNonLoopbackBind',
          expr: lib.expr('kube_scheduler_nonloopback_bind%(sel)s == 1', f),
          'for': '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'kube-scheduler secure port listens on {{ $labels.address }} (CIS 1.4.2).',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} accepts TLS on the non-loopback address
              {{ $labels.address }}, so its API is reachable from the network.
              Set `--bind-address=127.0.0.1` in the scheduler manifest unless remote scraping is
              required and firewalled.
            |||),
          },
        },
        {
          comment:: 'Anonymous health probes are allowed by design (system:public-info-viewer).',
          alert: 'KubeSchedulerAnonymousAccess',
          expr: lib.expr(@'kube_scheduler_anonymous_access{%(sel_)spath!~"/(healthz|livez|readyz)([/?].*)?"} == 1', f),
          'for': '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler serves {{ $labels.path }} without credentials.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} answered 200 to an anonymous request for
              {{ $labels.path }}. Remove the path from `--authorization-always-allow-paths` and
              make sure no RBAC binding grants system:anonymous or system:unauthenticated access.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerAuthenticationNotEnforced',
          expr: lib.expr('kube_scheduler_authentication_enforced%(sel)s == 0', f),
          'for': '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler accepts an invalid bearer token.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} did not answer 401 to a request with an invalid
              token, so delegated authentication is off. Check `--authentication-kubeconfig` and
              that `--authentication-skip-lookup` / anonymous settings are not overriding it.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerTLSCertificateExpiringSoon',
          expr: lib.expr(|||
            kube_scheduler_tls_cert_not_after_timestamp_seconds%(sel)s - time() < 30 * 86400
            and
            kube_scheduler_tls_cert_not_after_timestamp_seconds%(sel)s - time() >= 7 * 86400
          |||, f),
          'for': '1h',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'kube-scheduler serving certificate expires in less than 30 days.',
            description: lib.oneLine(|||
              The serving certificate of kube-scheduler {{ $labels.target }} expires in
              {{ $value | humanizeDuration }}. Renew it (`kubeadm certs renew` does not cover the
              self-signed scheduler cert: restart the scheduler or rotate `--tls-cert-file`).
            |||),
          },
        },
        {
          alert: 'KubeSchedulerTLSCertificateExpiringCritical',
          expr: lib.expr(|||
            kube_scheduler_tls_cert_not_after_timestamp_seconds%(sel)s - time() < 7 * 86400
            and
            kube_scheduler_tls_cert_not_after_timestamp_seconds%(sel)s - time() > 0
          |||, f),
          'for': '10m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler serving certificate expires in less than 7 days.',
            description: lib.oneLine(|||
              The serving certificate of kube-scheduler {{ $labels.target }} expires in
              {{ $value | humanizeDuration }}. Rotate `--tls-cert-file`/`--tls-private-key-file`
              or restart the scheduler to regenerate its self-signed certificate now.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerTLSCertificateExpired',
          expr: lib.expr('kube_scheduler_tls_cert_not_after_timestamp_seconds%(sel)s - time() <= 0', f),
          'for': '1m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler serving certificate has expired.',
            description: lib.oneLine(|||
              The serving certificate of kube-scheduler {{ $labels.target }} expired
              {{ $value | humanizeDuration }} ago (value is negative). Clients that verify it,
              including Prometheus and this exporter, fail. Rotate the certificate and restart
              the scheduler.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerTLSVersionInsecure',
          expr: lib.expr(@'kube_scheduler_tls_version_info{%(sel_)sversion=~"TLSv1(\\.[01])?|SSL.*"} == 1', f),
          'for': '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'kube-scheduler negotiated {{ $labels.version }}.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} negotiated {{ $labels.version }}, a protocol
              version with known weaknesses. Set `--tls-min-version=VersionTLS12` (or 13) on the
              scheduler.
            |||),
          },
        },
        {
          comment:: |||
            The check's own severity moves to `check_severity`; the alert's routing severity
            stays fixed so every failing CIS check pages the same way.
          |||,
          alert: 'KubeSchedulerSecurityCheckFailing',
          expr: lib.expr(|||
            label_replace(
              kube_scheduler_security_check{%(sel_)scis_id!="",status="fail"} == 1,
              "check_severity", "$1", "severity", "(.*)"
            )
          |||, f),
          'for': '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'CIS check {{ $labels.cis_id }} ({{ $labels.check }}) fails.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} fails CIS benchmark check {{ $labels.cis_id }}
              "{{ $labels.check }}" (check severity {{ $labels.check_severity }}). Fix the scheduler
              flags or file permissions named by the check; see the runbook table per CIS id.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerAlphaFeaturesEnabled',
          expr: lib.expr('kube_scheduler_alpha_features_enabled%(sel)s > 0', f),
          'for': '30m',
          labels: { severity: 'info' },
          annotations: {
            summary: 'kube-scheduler runs with {{ $value }} alpha feature gates enabled.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} has {{ $value }} ALPHA feature gates on. Alpha
              features are not covered by deprecation policy and can change or expose new
              endpoints (e.g. /flagz). Remove them from `--feature-gates` unless deliberately
              tested; list them with `kube_scheduler_feature_enabled{stage="ALPHA"} == 1`.
            |||),
          },
        },
      ]),

      group('kube-scheduler-availability', [
        {
          alert: 'KubeSchedulerHealthCheckFailing',
          expr: lib.expr('kube_scheduler_health_check_status%(sel)s == 0', f),
          'for': '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler {{ $labels.endpoint }} check {{ $labels.check }} fails.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} reports `[-]{{ $labels.check }} failed` on
              /{{ $labels.endpoint }}?verbose. Read the scheduler log for that check
              (`crictl logs` on the control-plane node) and restart the static pod if it is stuck.
            |||),
          },
        },
        {
          comment:: |||
            Only when no individual check explains it and /metrics still answers; otherwise
            KubeSchedulerHealthCheckFailing or KubeSchedulerTargetUnreachable already fire.
          |||,
          alert: 'KubeSchedulerHealthEndpointFailing',
          expr: lib.expr(|||
            kube_scheduler_health_status%(sel)s == 0
            unless on (target, job, instance) (kube_scheduler_health_check_status%(sel)s == 0)
            unless on (target, job, instance) (kube_scheduler_up%(sel)s == 0)
          |||, f),
          'for': '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler /{{ $labels.endpoint }} does not answer 200.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} answers /metrics but /{{ $labels.endpoint }}
              does not return 200. Query it with `?verbose` using the exporter's token, check the
              scheduler log, and restart the static pod if it does not recover.
            |||),
          },
        },
        {
          comment:: 'Fires once per target when no target of the same cluster and job holds the lease.',
          alert: 'KubeSchedulerNoLeader',
          expr: lib.expr(|||
            kube_scheduler_leader%(sel)s == 0
            unless on (%(cluster)s, job) (kube_scheduler_leader%(sel)s == 1)
          |||, f),
          'for': '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'No kube-scheduler instance holds the leader lease.',
            description: lib.oneLine(|||
              None of the kube-schedulers scraped with {{ $labels.target }} is leader, so no pods
              are being scheduled. Check the `kube-scheduler` Lease in kube-system
              (`kubectl -n kube-system get lease kube-scheduler -o yaml`) and the scheduler logs
              for leader-election errors talking to the API server.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerTargetUnreachable',
          expr: lib.expr('kube_scheduler_up%(sel)s == 0', f),
          'for': '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler {{ $labels.target }} cannot be polled.',
            description: lib.oneLine(|||
              The exporter could not fetch and parse /metrics from kube-scheduler
              {{ $labels.target }} for 5 minutes. Look at
              `kube_scheduler_poll_errors_total{target="{{ $labels.target }}"}` for the reason
              (connect_refused: scheduler down; tls_verify: wrong CA; http_status: RBAC).
            |||),
          },
        },
        {
          alert: 'KubeSchedulerExporterDown',
          expr: lib.expr(|||
            up%(up)s == 0
            or
            absent(up%(up)s)
          |||, f),
          'for': '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'kube-scheduler-exporter is down or not scraped.',
            description: lib.oneLine(|||
              Prometheus cannot scrape kube-scheduler-exporter{{ with $labels.instance }} at
              {{ . }}{{ else }}: no exporter target is discovered at all{{ end }}, so every
              kube-scheduler security and health alert is blind. Check the DaemonSet pods
              (`kubectl -n kube-scheduler-exporter get pods -o wide`) and the ServiceMonitor.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerPollErrorsRising',
          expr: lib.expr(|||
            rate(kube_scheduler_poll_errors_total%(sel)s[5m])
            / ignoring (reason) group_left
            rate(kube_scheduler_polls_total%(sel)s[5m])
            > 0.1
          |||, f),
          'for': '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'More than 10% of polls of {{ $labels.target }} fail ({{ $labels.reason }}).',
            description: lib.oneLine(|||
              {{ $value | humanizePercentage }} of poll cycles against kube-scheduler
              {{ $labels.target }} fail with reason {{ $labels.reason }}. timeout: raise the poll
              timeout or check scheduler load; tls_*: check the CA file; http_status: check the
              exporter's RBAC.
            |||),
          },
        },
      ]),

      group('kube-scheduler-performance', [
        {
          alert: 'KubeSchedulerHighSchedulingLatency',
          expr: lib.expr(|||
            max without (result) (
              kube_scheduler_scheduling_latency_seconds{%(sel_)skind="attempt",quantile="0.99"}
            ) > 1
          |||, f),
          'for': '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'kube-scheduler p99 scheduling attempt latency is above 1s.',
            description: lib.oneLine(|||
              The 99th percentile scheduling attempt latency of kube-scheduler
              {{ $labels.target }} is {{ $value | humanizeDuration }}. Check which extension point
              is slow (`kube_scheduler_extension_point_latency_seconds`), the API server latency,
              and the node count against `percentageOfNodesToScore`.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerUnschedulablePodsGrowing',
          expr: lib.expr(|||
            kube_scheduler_unschedulable_pods%(sel)s > 0
            and
            delta(kube_scheduler_unschedulable_pods%(sel)s[30m]) > 0
          |||, f),
          'for': '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Unschedulable pods keep growing on {{ $labels.target }}.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} holds {{ $value }} unschedulable pods and the
              number has grown over the last 30 minutes. Run
              `kubectl get events -A --field-selector reason=FailedScheduling` to see which
              filter rejects them (resources, taints, affinity) and add capacity or fix the specs.
            |||),
          },
        },
        {
          alert: 'KubeSchedulerSchedulingErrors',
          expr: lib.expr('kube_scheduler_schedule_attempts_rate{%(sel_)sresult="error"} > 0', f),
          'for': '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'kube-scheduler {{ $labels.target }} fails scheduling attempts with errors.',
            description: lib.oneLine(|||
              kube-scheduler {{ $labels.target }} ends {{ $value | printf "%.2f" }} attempts per second
              in `error` (not `unschedulable`): an internal or API failure such as a failed bind
              or a plugin error. Read the scheduler log for "Error scheduling pod" and check
              API server health.
            |||),
          },
        },
      ]),
    ],
  },
}
