// The Grafana dashboard (schemaVersion 39), rendered to Dashboards/kube-scheduler-exporter.json.
// Every per-target query is narrowed by the cluster, job and target variables (and by
// _config.selector); the exporter's own series carry no `target`.
local lib = import 'lib.libsonnet';

local datasource = { type: 'prometheus', uid: '${datasource}' };
local greenRed = [{ color: 'green', value: null }, { color: 'red', value: 1 }];
local redGreen = [{ color: 'red', value: null }, { color: 'green', value: 1 }];
local greenOrange = [{ color: 'green', value: null }, { color: 'orange', value: 1 }];

// mapping: [[value, text, color], ...] in display order.
local valueMap(mapping) = [{
  type: 'value',
  options: {
    [std.toString(mapping[i][0])]: { text: mapping[i][1], color: mapping[i][2], index: i }
    for i in std.range(0, std.length(mapping) - 1)
  },
}];
local yesBad = [[0, 'no', 'green'], [1, 'YES', 'red']];

local target(expr, legend='{{target}}', table=false) =
  { datasource: datasource, expr: expr, legendFormat: legend, refId: 'A' }
  + (if table then { format: 'table', instant: true, range: false } else {});

local stat(title, description, expr, steps, mappings=[], unit='none', legend='{{target}}', w=4) = {
  type: 'stat',
  title: title,
  description: description,
  w:: w,
  h:: 4,
  targets: [target(expr, legend)],
  fieldConfig: {
    defaults: {
      unit: unit,
      color: { mode: 'thresholds' },
      thresholds: { mode: 'absolute', steps: steps },
      mappings: mappings,
    },
    overrides: [],
  },
  options: {
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    colorMode: 'background',
    graphMode: 'none',
    textMode: 'value_and_name',
    justifyMode: 'auto',
    orientation: 'auto',
    wideLayout: true,
    showPercentChange: false,
  },
};

local timeseries(title, description, targets, unit='short', w=12, h=8, stack=false, minZero=true) = {
  type: 'timeseries',
  title: title,
  description: description,
  w:: w,
  h:: h,
  targets: targets,
  fieldConfig: {
    defaults: {
      unit: unit,
      custom: {
        drawStyle: 'line',
        lineWidth: 1,
        fillOpacity: 10,
        showPoints: 'never',
        spanNulls: false,
        stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
      },
      color: { mode: 'palette-classic' },
    } + (if minZero then { min: 0 } else {}),
    overrides: [],
  },
  options: {
    legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] },
    tooltip: { mode: 'multi', sort: 'desc' },
  },
};

local stateTimeline(title, description, expr, legend, mapping, w=12, h=8) = {
  type: 'state-timeline',
  title: title,
  description: description,
  w:: w,
  h:: h,
  targets: [target(expr, legend)],
  fieldConfig: {
    defaults: {
      color: { mode: 'thresholds' },
      thresholds: { mode: 'absolute', steps: redGreen },
      mappings: valueMap(mapping),
    },
    overrides: [],
  },
  options: {
    showValue: 'never',
    mergeValues: true,
    rowHeight: 0.8,
    alignValue: 'left',
    legend: { showLegend: false },
    tooltip: { mode: 'single', sort: 'none' },
  },
};

// columns: ordered label names to show; everything else is hidden.
local table(title, description, expr, columns, overrides=[], w=12, h=8, sortBy=null) = {
  type: 'table',
  title: title,
  description: description,
  w:: w,
  h:: h,
  targets: [target(expr, '__auto', table=true)],
  transformations: [
    {
      id: 'organize',
      options: {
        excludeByName: { Time: true, Value: true, __name__: true, instance: true, job: true },
        indexByName: { [columns[i]]: i for i in std.range(0, std.length(columns) - 1) },
        renameByName: {},
      },
    },
    { id: 'filterFieldsByName', options: { include: { names: columns } } },
  ],
  fieldConfig: {
    defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, filterable: true } },
    overrides: overrides,
  },
  options: {
    showHeader: true,
    cellHeight: 'sm',
    footer: { show: false, reducer: ['sum'], fields: '' },
    sortBy: if sortBy == null then [] else [{ displayName: sortBy, desc: false }],
  },
};

local colorCells(field, mapping) = {
  matcher: { id: 'byName', options: field },
  properties: [
    { id: 'mappings', value: valueMap(mapping) },
    { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
  ],
};

local row(title, description, panels) = { title: title, description: description, panels: panels };

// Rows and panels laid out left to right on the 24-column grid, wrapping when a panel does not
// fit; ids count up from 1 in order.
local layout(rows) =
  local place(state, panel) =
    local wraps = state.x + panel.w > 24;
    local x = if wraps then 0 else state.x;
    local y = if wraps then state.y + state.rowHeight else state.y;
    local rowHeight = if wraps then 0 else state.rowHeight;
    state {
      id: state.id + 1,
      x: x + panel.w,
      y: y,
      rowHeight: std.max(rowHeight, panel.h),
      panels+: [panel { id: state.id, datasource: datasource, gridPos: { h: panel.h, w: panel.w, x: x, y: y } }],
    };
  local addRow(state, r) =
    local header = {
      type: 'row',
      title: r.title,
      description: r.description,
      collapsed: false,
      id: state.id,
      gridPos: { h: 1, w: 24, x: 0, y: state.y },
      panels: [],
    };
    local placed = std.foldl(place, r.panels, state { id: state.id + 1, x: 0, y: state.y + 1, rowHeight: 0, panels+: [header] });
    placed { y: placed.y + placed.rowHeight };
  std.foldl(addRow, rows, { id: 1, y: 0, x: 0, rowHeight: 0, panels: [] }).panels;

local variable(name, label, query, description) = {
  name: name,
  label: label,
  type: 'query',
  datasource: datasource,
  definition: query,
  query: { query: query, refId: name + '-query', qryType: 1 },
  refresh: 2,
  sort: 1,
  multi: true,
  includeAll: true,
  allValue: '.*',
  current: { selected: true, text: ['All'], value: ['$__all'] },
  description: description,
  hide: 0,
  regex: '',
  options: [],
};

{
  grafanaDashboards+:: {
    local c = $._config,
    local cluster = c.clusterLabel + '=~"$cluster"',
    // Per-target series, and the exporter's own series (no `target`).
    local f = {
      sel: std.join(', ', std.filter(function(p) p != '', [c.selector, cluster, 'job=~"$job"', 'target=~"$target"'])),
      exp: std.join(', ', std.filter(function(p) p != '', [c.selector, cluster, 'job=~"$job"'])),
      health: @'path!~"/(healthz|livez|readyz)([/?].*)?"',
      insecureTLS: @'version=~"TLSv1(\\.[01])?|SSL.*"',
      cluster: c.clusterLabel,
    },
    local q(text) = text % f,

    local rows = [
      row('Security posture', "Findings of the exporter's security checks per target: red means a finding.", [
        stat('Scheduler reachable',
             "kube_scheduler_up: 1 when the exporter's last poll of /metrics returned 200 and parsed.",
             q('kube_scheduler_up{%(sel)s}'),
             redGreen,
             valueMap([[0, 'DOWN', 'red'], [1, 'up', 'green']])),
        stat('Failing CIS checks',
             'Number of security checks with status fail (recording rule kube_scheduler:security_checks_failing:count). Details in the table below.',
             q('sum by (target) (kube_scheduler:security_checks_failing:count{%(sel)s})'),
             greenRed),
        stat('Profiling enabled',
             'kube_scheduler_profiling_enabled from any source (pprof, configz, flagz, manifest). CIS 1.4.1 wants --profiling=false.',
             q('max by (target) (kube_scheduler_profiling_enabled{%(sel)s})'),
             greenRed,
             valueMap(yesBad)),
        stat('Insecure port open',
             'kube_scheduler_insecure_port_open: a legacy plain-HTTP port answers.',
             q('max by (target) (kube_scheduler_insecure_port_open{%(sel)s})'),
             greenRed,
             valueMap(yesBad)),
        stat('Non-loopback bind',
             'kube_scheduler_nonloopback_bind: the secure port accepts TLS on a non-loopback address (CIS 1.4.2).',
             q('max by (target) (kube_scheduler_nonloopback_bind{%(sel)s})'),
             greenRed,
             valueMap(yesBad)),
        stat('Anonymous access',
             'kube_scheduler_anonymous_access on paths other than the health endpoints: an unauthenticated request got 200.',
             q('max by (target) (kube_scheduler_anonymous_access{%(sel)s, %(health)s})'),
             greenRed,
             valueMap(yesBad)),
        stat('Authentication enforced',
             'kube_scheduler_authentication_enforced: an invalid bearer token gets 401.',
             q('min by (target) (kube_scheduler_authentication_enforced{%(sel)s})'),
             redGreen,
             valueMap([[0, 'NO', 'red'], [1, 'yes', 'green']])),
        stat('TLS chain verified',
             'kube_scheduler_tls_verified: the serving certificate verifies against the configured CA, name included.',
             q('min by (target) (kube_scheduler_tls_verified{%(sel)s})'),
             redGreen,
             valueMap([[0, 'NO', 'red'], [1, 'yes', 'green']])),
        stat('TLS version below 1.2',
             'kube_scheduler_tls_version_info: red when the negotiated version is SSL, TLS 1.0 or TLS 1.1.',
             q('max by (target) (kube_scheduler_tls_version_info{%(sel)s, %(insecureTLS)s}) '
               + 'or max by (target) (kube_scheduler_tls_version_info{%(sel)s}) * 0'),
             greenRed,
             valueMap([[0, 'TLS >= 1.2', 'green'], [1, 'TLS < 1.2', 'red']])),
        stat('Self-signed certificate',
             "kube_scheduler_tls_cert_self_signed: the leaf certificate signs itself (kube-scheduler's default when no --tls-cert-file is given).",
             q('max by (target) (kube_scheduler_tls_cert_self_signed{%(sel)s})'),
             greenOrange,
             valueMap([[0, 'no', 'green'], [1, 'yes', 'orange']])),
        stat('Alpha feature gates',
             'kube_scheduler_alpha_features_enabled: enabled ALPHA feature gates.',
             q('max by (target) (kube_scheduler_alpha_features_enabled{%(sel)s})'),
             greenOrange),
        stat('Certificate expires in',
             "Time left until the serving certificate's notAfter (kube_scheduler:tls_cert_expires_in_seconds); orange below 30 days, red below 7.",
             q('min by (target) (kube_scheduler:tls_cert_expires_in_seconds{%(sel)s})'),
             [{ color: 'red', value: null }, { color: 'orange', value: 604800 }, { color: 'green', value: 2592000 }],
             unit='dtdurations'),
        table('Security checks',
              'Every check of kube_scheduler_security_check with its current status and CIS benchmark id.',
              q('kube_scheduler_security_check{%(sel)s} == 1'),
              ['target', 'cis_id', 'check', 'severity', 'status'],
              [colorCells('status', [['fail', 'fail', 'red'], ['pass', 'pass', 'green'], ['unknown', 'unknown', 'orange']])],
              w=16,
              h=10,
              sortBy='status'),
        timeseries('Findings by severity',
                   'kube_scheduler_security_findings: failing checks by severity over time.',
                   [target(q('sum by (severity) (kube_scheduler_security_findings{%(sel)s})'), '{{severity}}')],
                   w=8,
                   h=10,
                   stack=true),
      ]),
      row('TLS', "The scheduler's serving certificate and handshake.", [
        timeseries('Certificate lifetime left',
                   'Seconds until notAfter of the serving certificate, per target.',
                   [target(q('kube_scheduler:tls_cert_expires_in_seconds{%(sel)s}'))],
                   unit='dtdurations',
                   minZero=false),
        table('Negotiated TLS and HTTP versions',
              'kube_scheduler_tls_version_info and kube_scheduler_http_version_info of the last /metrics poll.',
              q('label_replace(kube_scheduler_tls_version_info{%(sel)s}, "protocol", "TLS", "", "") '
                + 'or label_replace(kube_scheduler_http_version_info{%(sel)s}, "protocol", "HTTP", "", "")'),
              ['target', 'protocol', 'version']),
      ]),
      row('Health', '/healthz, /livez and /readyz of each scheduler, per endpoint and per check.', [
        stateTimeline('Health endpoints',
                      'kube_scheduler_health_status: 1 when the endpoint answered 200.',
                      q('kube_scheduler_health_status{%(sel)s}'),
                      '{{target}} /{{endpoint}}',
                      [[0, 'failing', 'red'], [1, 'ok', 'green']]),
        stateTimeline('Health checks',
                      'kube_scheduler_health_check_status: each [+]/[-] line of the ?verbose bodies.',
                      q('kube_scheduler_health_check_status{%(sel)s}'),
                      '{{target}} {{endpoint}}/{{check}}',
                      [[0, 'failed', 'red'], [1, 'ok', 'green']]),
        timeseries('Endpoint HTTP status',
                   'kube_scheduler_endpoint_http_status: status code of the last request per endpoint (0 = no response; 403/404 on pprof, flagz or statusz can be expected).',
                   [target(q('kube_scheduler_endpoint_http_status{%(sel)s}'), '{{target}} {{endpoint}}')],
                   unit='none'),
        timeseries('Endpoint request duration',
                   'kube_scheduler_endpoint_duration_seconds: duration of the last request per endpoint.',
                   [target(q('kube_scheduler_endpoint_duration_seconds{%(sel)s}'), '{{target}} {{endpoint}}')],
                   unit='s'),
      ]),
      row('Leadership', 'Leader election among the scheduler replicas.', [
        stat('Leader',
             'kube_scheduler_leader: 1 when this instance holds the kube-scheduler lease.',
             q('max by (target, instance) (kube_scheduler_leader{%(sel)s})'),
             [{ color: 'blue', value: null }, { color: 'green', value: 1 }],
             valueMap([[0, 'standby', 'blue'], [1, 'leader', 'green']]),
             legend='{{target}} {{instance}}',
             w=8),
        stat('Leaders per cluster',
             'Instances that report leading, per cluster: exactly 1 is healthy, 0 means nothing is scheduled.',
             q('sum by (%(cluster)s) (kube_scheduler_leader{%(exp)s})'),
             [{ color: 'red', value: null }, { color: 'green', value: 1 }, { color: 'red', value: 2 }],
             legend='{{' + c.clusterLabel + '}}',
             w=4),
        table('Scheduler build',
              'kube_scheduler_build_info: version of each kube-scheduler.',
              q('kube_scheduler_build_info{%(sel)s}'),
              ['target', 'git_version', 'git_commit', 'go_version', 'platform'],
              w=12,
              h=4),
      ]),
      row('Scheduling performance', "Windowed latency quantiles and rates derived by the exporter from the scheduler's histograms and counters.", [
        timeseries('Scheduling attempt latency',
                   'kube_scheduler_scheduling_latency_seconds{kind="attempt"}: p50/p90/p99 of one scheduling attempt.',
                   [target(q('kube_scheduler_scheduling_latency_seconds{%(sel)s, kind="attempt"}'), '{{target}} p{{quantile}} {{result}}')],
                   unit='s',
                   w=8),
        timeseries('Pod end-to-end latency',
                   'kube_scheduler_scheduling_latency_seconds{kind="pod_e2e"}: p50/p90/p99 from first attempt to bound, across retries.',
                   [target(q('kube_scheduler_scheduling_latency_seconds{%(sel)s, kind="pod_e2e"}'), '{{target}} p{{quantile}} {{result}}')],
                   unit='s',
                   w=8),
        timeseries('Algorithm latency',
                   'kube_scheduler_scheduling_latency_seconds{kind="algorithm"}: p50/p90/p99 of the filter+score algorithm.',
                   [target(q('kube_scheduler_scheduling_latency_seconds{%(sel)s, kind="algorithm"}'), '{{target}} p{{quantile}} {{result}}')],
                   unit='s',
                   w=8),
        timeseries('Extension point latency p99',
                   'kube_scheduler_extension_point_latency_seconds at the 0.99 quantile per framework extension point.',
                   [target(q('kube_scheduler_extension_point_latency_seconds{%(sel)s, quantile="0.99"}'), '{{target}} {{extension_point}}')],
                   unit='s'),
        timeseries('Schedule attempts by result',
                   'kube_scheduler_schedule_attempts_rate: attempts per second by result (scheduled, unschedulable, error).',
                   [target(q('kube_scheduler_schedule_attempts_rate{%(sel)s}'), '{{target}} {{result}}')],
                   unit='ops',
                   stack=true),
        timeseries('Pending pods by queue',
                   'kube_scheduler_pending_pods: pods waiting in each scheduling queue.',
                   [target(q('kube_scheduler_pending_pods{%(sel)s}'), '{{target}} {{queue}}')],
                   stack=true,
                   w=8),
        timeseries('Unschedulable pods',
                   'kube_scheduler_unschedulable_pods: pods that no node fits right now.',
                   [target(q('kube_scheduler_unschedulable_pods{%(sel)s}'))],
                   w=8),
        timeseries('Preemption attempts',
                   'kube_scheduler_preemption_attempts_rate: preemption attempts per second.',
                   [target(q('kube_scheduler_preemption_attempts_rate{%(sel)s}'))],
                   unit='ops',
                   w=8),
      ]),
      row('Exporter self-health', 'The exporter process and its polling.', [
        stat('Exporter up',
             "Prometheus's up for the exporter job: 0 means the exporter itself cannot be scraped.",
             q('up{%(exp)s}'),
             redGreen,
             valueMap([[0, 'DOWN', 'red'], [1, 'up', 'green']]),
             legend='{{instance}}'),
        stat('Last successful poll',
             'Seconds since the last poll with kube_scheduler_up == 1.',
             q('time() - kube_scheduler_last_successful_poll_timestamp_seconds{%(sel)s}'),
             [{ color: 'green', value: null }, { color: 'orange', value: 60 }, { color: 'red', value: 300 }],
             unit='s'),
        timeseries('Poll duration',
                   'kube_scheduler_poll_duration_seconds: wall time of the last poll cycle over all endpoints.',
                   [target(q('kube_scheduler_poll_duration_seconds{%(sel)s}'))],
                   unit='s',
                   w=8),
        timeseries('Poll errors',
                   'Failed poll cycles per second by reason (kube_scheduler_poll_errors_total).',
                   [target(q('sum by (target, reason) (rate(kube_scheduler_poll_errors_total{%(sel)s}[$__rate_interval]))'),
                           '{{target}} {{reason}}')],
                   unit='ops',
                   w=8),
        timeseries('Exporter memory (RSS)',
                   'process_resident_memory_bytes of the exporter.',
                   [target(q('process_resident_memory_bytes{%(exp)s}'), '{{instance}}')],
                   unit='bytes',
                   w=8),
        timeseries('Exporter CPU',
                   'CPU seconds per second used by the exporter (process_cpu_seconds_total).',
                   [target(q('rate(process_cpu_seconds_total{%(exp)s}[$__rate_interval])'), '{{instance}}')],
                   unit='percentunit',
                   w=8),
        timeseries('Scrapes served',
                   "kube_scheduler_exporter_scrapes_total: scrapes of the exporter's /metrics per second by format.",
                   [target(q('sum by (instance, format) (rate(kube_scheduler_exporter_scrapes_total{%(exp)s}[$__rate_interval]))'),
                           '{{instance}} {{format}}')],
                   unit='ops',
                   w=8),
      ]),
    ],

    'kube-scheduler-exporter.json': {
      annotations: { list: [{
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      }] },
      description: 'kube-scheduler security posture, health, leadership and scheduling latency from kube-scheduler-exporter.',
      editable: true,
      fiscalYearStartMonth: 0,
      graphTooltip: 1,
      id: null,
      links: [],
      panels: layout(rows),
      refresh: '30s',
      schemaVersion: 39,
      tags: ['kubernetes', 'kube-scheduler', 'security', 'kube-scheduler-exporter'],
      templating: { list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
          includeAll: false,
          multi: false,
          refresh: 1,
          regex: '',
          options: [],
          description: 'Prometheus that scrapes kube-scheduler-exporter.',
        },
        variable('cluster',
                 'Cluster',
                 'label_values(kube_scheduler_up%s, %s)' % [lib.braces([c.selector]), c.clusterLabel],
                 'The `%s` label (external or relabelled); All also matches series without it.' % c.clusterLabel),
        variable('job',
                 'Job',
                 'label_values(kube_scheduler_up%s, job)' % lib.braces([c.selector, cluster]),
                 'The Prometheus job scraping the exporter.'),
        variable('target',
                 'Target',
                 'label_values(kube_scheduler_up%s, target)' % lib.braces([c.selector, cluster, 'job=~"$job"']),
                 "The scheduler target as named in the exporter's config."),
      ] },
      time: { from: 'now-6h', to: 'now' },
      timepicker: {},
      timezone: 'browser',
      title: 'kube-scheduler exporter',
      uid: 'kube-scheduler-exporter',
      version: 1,
      weekStart: '',
    },
  },
}
