// The knobs of the kube-scheduler-exporter mixin. Override them with `_config+::` (see
// Alerts/README.md); with these defaults the mixin renders exactly the committed
// Alerts/kube-scheduler-exporter.rules.yml and Dashboards/kube-scheduler-exporter.json.
{
  _config+:: {
    // Label matchers ANDed into every selector of the exporter's series (kube_scheduler_*,
    // the recording rules, process_*, up) in the rules and the dashboard, e.g.
    // 'job="kube-scheduler-exporter"'. Empty: the kube_scheduler_* names alone select them.
    selector: '',

    // Matchers for Prometheus's own `up` series of the exporter, used by
    // KubeSchedulerExporterDown (which must also fire when no kube_scheduler_* series exist).
    // Follows `selector` when that is set.
    exporterSelector: if self.selector != '' then self.selector else 'job=~".*kube-scheduler-exporter.*"',

    // The label that tells clusters apart (external label or relabelled): KubeSchedulerNoLeader
    // looks for a leader per cluster and job, and the dashboard's `cluster` variable reads it.
    clusterLabel: 'cluster',

    // Every alert's runbook_url; %s is the lower-case alert name (the section anchor in
    // docs/runbook.md).
    runbookURLPattern: 'https://github.com/kube-scheduler-exporter/kube-scheduler-exporter/blob/main/docs/runbook.md#%s',

  },
}
