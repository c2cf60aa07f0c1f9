// kube-scheduler-exporter monitoring mixin: prometheusRules (recording rules),
// prometheusAlerts and grafanaDashboards, configured by _config (config.libsonnet).
// Rendered to the committed Alerts/kube-scheduler-exporter.rules.yml and
// Dashboards/kube-scheduler-exporter.json by scripts/render-mixin.
(import 'config.libsonnet')
+ (import 'rules.libsonnet')
+ (import 'alerts.libsonnet')
+ (import 'dashboards.libsonnet')
