// Helpers shared by alerts.libsonnet, rules.libsonnet and dashboards.libsonnet.
{
  // '{a, b}' from the non-empty matcher strings, '' when all are empty, so that
  // 'metric' + braces([...]) stays a bare metric name with the default config.
  braces(parts)::
    local present = std.filter(function(part) part != '', parts);
    if present == [] then '' else '{' + std.join(', ', present) + '}',

  // The format keys the rule expressions use, from the mixin's _config:
  //   metric%(sel)s            metric{<selector>}, or the bare name when selector is empty
  //   metric{%(sel_)sa="b"}    metric{<selector>, a="b"}, or metric{a="b"}
  //   up%(up)s                 up{<exporterSelector>}
  //   on (%(cluster)s, job)    the cluster label's name
  ruleFormat(config):: {
    sel: $.braces([config.selector]),
    sel_: if config.selector == '' then '' else config.selector + ', ',
    up: $.braces([config.exporterSelector]),
    cluster: config.clusterLabel,
  },

  // A text block (|||) without its final newline, formatted with ruleFormat: PromQL keeps the
  // author's line breaks (rendered as a YAML literal block).
  expr(text, format):: std.rstripChars(text, '\n') % format,

  // A text block (|||) as one line: line breaks become single spaces, the way YAML folds a `>-`
  // scalar. Annotations are written wrapped in the source and rendered as the one line
  // Alertmanager shows.
  oneLine(text):: std.join(' ', std.split(std.rstripChars(text, '\n'), '\n')),

  // Adds runbook_url (from config.runbookURLPattern and the lower-case alert name) to every
  // alert of a rule list.
  withRunbooks(config, rules):: [
    if std.objectHas(rule, 'alert')
    then rule { annotations+: { runbook_url: config.runbookURLPattern % std.asciiLower(rule.alert) } }
    else rule
    for rule in rules
  ],
}
