// Recording rules. prometheusRules.groups come first in the rendered rule file.
local lib = import 'lib.libsonnet';

{
  prometheusRules+:: {
    local f = lib.ruleFormat($._config),
    groups+: [
      {
        name: 'kube-scheduler-exporter.recording',
        rules: [
          {
            comment:: 'Seconds until the serving certificate expires; negative once it has expired.',
            record: 'kube_scheduler:tls_cert_expires_in_seconds',
            expr: lib.expr('kube_scheduler_tls_cert_not_after_timestamp_seconds%(sel)s - time()', f),
          },
          {
            comment:: 'Failed poll cycles per second over all reasons.',
            record: 'kube_scheduler:poll_errors:rate5m',
            expr: lib.expr('sum without (reason) (rate(kube_scheduler_poll_errors_total%(sel)s[5m]))', f),
          },
          {
            comment:: |||
              Number of CIS checks currently failing per target: the state set always carries a
              `status="fail"` series per check, 1 when failing, so a sum counts them.
            |||,
            record: 'kube_scheduler:security_checks_failing:count',
            expr: lib.expr(|||
              sum without (check, cis_id, severity, status)
              (kube_scheduler_security_check{%(sel_)sstatus="fail"})
            |||, f),
          },
        ],
      },
    ],
  },
}
