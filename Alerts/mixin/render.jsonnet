// Renders the mixin to the files committed for users without jsonnet, as one multi-file output:
//   jsonnet -S -m <repo root> Alerts/mixin/render.jsonnet
// scripts/render-mixin runs it (and --check compares). `config` (a top-level argument, e.g.
// --tla-code 'config={selector: "job=\"x\""}') is merged into _config for lint renders.
// The YAML and JSON writers below are deterministic and small on purpose: the rule file keeps
// comments (hidden `comment::` fields), folds long annotations and stays within yamllint's
// line length; the JSON is indented by 2 with sorted keys.
local width = 100;  // fold annotations to this many columns (yamllint allows 140)

// ---- JSON ------------------------------------------------------------------------------
local jsonNumber(n) =
  if n == std.floor(n) && std.abs(n) < 1e15 then std.toString(n)
  else
    // the shortest %g that reads back as the same number (std.toString prints 17 digits)
    local candidates = [std.format('%.' + p + 'g', n) for p in std.range(1, 17)];
    [s for s in candidates if std.parseJson(s) == n][0];

local json(value, indent='') =
  local inner = indent + '  ';
  local t = std.type(value);
  if t == 'object' then
    if std.length(value) == 0 then '{}'
    else '{\n' + std.join(',\n', [inner + std.escapeStringJson(k) + ': ' + json(value[k], inner) for k in std.objectFields(value)]) + '\n' + indent + '}'
  else if t == 'array' then
    if std.length(value) == 0 then '[]'
    else '[\n' + std.join(',\n', [inner + json(v, inner) for v in value]) + '\n' + indent + ']'
  else if t == 'string' then std.escapeStringJson(value)
  else if t == 'number' then jsonNumber(value)
  else if t == 'boolean' then (if value then 'true' else 'false')
  else if t == 'null' then 'null'
  else error 'cannot write a ' + t + ' as JSON';

// ---- YAML ------------------------------------------------------------------------------
// Keys in the order Prometheus documents them; any other key follows, sorted.
local keyOrder = [
  'name',
  'interval',
  'limit',
  'rules',
  'record',
  'alert',
  'expr',
  'for',
  'keep_firing_for',
  'labels',
  'annotations',
  'summary',
  'description',
  'runbook_url',
];
local sortedKeys(o) =
  local rank(k) = local i = std.find(k, keyOrder); if i == [] then std.length(keyOrder) else i[0];
  std.sort(std.objectFields(o), keyF=function(k) std.format('%03d %s', [rank(k), k]));

local chars(s) = std.stringChars(s);
local has(s, sub) = std.length(std.findSubstr(sub, s)) > 0;
local allIn(s, set) = std.length([c for c in chars(s) if !has(set, c)]) == 0;
local reserved = ['true', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', 'null', '~'];

// True when s reads back as the same string written plain (conservatively).
local plain(s) =
  s != '' && std.length(std.findSubstr(chars(s)[0], 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/(')) > 0
  && !has(s, ': ') && !has(s, ' #') && !has(s, '\t') && !has(s, '\n')
  && !std.endsWith(s, ':') && !std.endsWith(s, ' ')
  && !std.member(reserved, std.asciiLower(s))
  && !allIn(s, '0123456789+-._:eExXoObBaAcCdDfF');  // numbers, dates, hex, sexagesimal

// Greedy word wrap for a `>-` block: YAML folds each line break back into one space. A
// template action ({{ ... }}) is never split across lines.
local wrap(s, indent) =
  local open(token) = std.length(std.findSubstr('{{', token)) > std.length(std.findSubstr('}}', token));
  local tokens = std.foldl(
    function(acc, word)
      if acc != [] && open(acc[std.length(acc) - 1])
      then acc[:std.length(acc) - 1] + [acc[std.length(acc) - 1] + ' ' + word]
      else acc + [word],
    std.split(s, ' '),
    []
  );
  local step(lines, token) =
    local last = lines[std.length(lines) - 1];
    if last != '' && std.length(indent) + std.length(last) + 1 + std.length(token) > width
    then lines + [token]
    else lines[:std.length(lines) - 1] + [if last == '' then token else last + ' ' + token];
  std.foldl(step, tokens, ['']);

local scalar(s, indent) =  // the text after 'key:' (or '-'), and the lines below it
  if has(s, '\n') then
    local lines = std.split(s, '\n');
    assert !std.endsWith(s, '\n') && !std.startsWith(s, ' ') : 'cannot write as a |- block: ' + s;
    assert [l for l in lines if std.endsWith(l, ' ')] == [] : 'trailing space in: ' + s;
    ' |-\n' + std.join('\n', [if l == '' then '' else indent + l for l in lines])
  // plain when it fits, or when it cannot be broken anyway (a URL)
  else if plain(s) && (std.length(indent) + std.length(s) < width || !has(s, ' ')) then ' ' + s
  else if s != '' && !has(s, '  ') && !has(s, '\t') && !std.startsWith(s, ' ') && !std.endsWith(s, ' ') then
    ' >-\n' + std.join('\n', [indent + l for l in wrap(s, indent)])
  else ' ' + std.escapeStringJson(s);

local comment(o, indent) =
  if std.objectHasAll(o, 'comment') && !std.objectHas(o, 'comment')
  then std.join('', [indent + '# ' + l + '\n' for l in std.split(std.rstripChars(o.comment, '\n'), '\n')])
  else '';

local spacedLists = ['groups', 'rules'];  // a blank line between their items

local yamlValue(v, indent) =  // text after 'key:' including the newline-separated block below
  local t = std.type(v);
  if t == 'string' then scalar(v, indent + '  ')
  else if t == 'number' then ' ' + std.toString(v)
  else if t == 'boolean' then (if v then ' true' else ' false')
  else if t == 'null' then ' null'
  else if t == 'object' && std.length(v) == 0 then ' {}'
  else if t == 'array' && std.length(v) == 0 then ' []'
  else error 'yamlValue: ' + t;

// object() and list() call each other, hence one object of functions.
local yaml = {
  // firstPrefix replaces the indentation of the first key ('- ' for a list item)
  object(o, indent, firstPrefix='')::
    local keys = sortedKeys(o);
    std.join('\n', [
      local k = keys[i];
      local v = o[k];
      local lead = if i == 0 && firstPrefix != '' then firstPrefix else indent;
      local t = std.type(v);
      if t == 'object' && std.length(v) > 0 then
        lead + k + ':\n' + self.object(v, indent + '  ')
      else if t == 'array' && std.length(v) > 0 then
        lead + k + ':\n' + self.list(v, indent + '  ', std.member(spacedLists, k))
      else lead + k + ':' + yamlValue(v, indent)
      for i in std.range(0, std.length(keys) - 1)
    ]),

  list(a, indent, spaced)::
    std.join(if spaced then '\n\n' else '\n', [
      if std.type(item) == 'object' && std.length(item) > 0 then
        comment(item, indent) + self.object(item, indent + '  ', indent + '- ')
      else indent + '-' + yamlValue(item, indent)
      for item in a
    ]),
};

local header = |||
  ---
  # GENERATED by scripts/render-mixin from Alerts/mixin/ (the jsonnet monitoring mixin). Do not
  # edit: change Alerts/mixin/*.libsonnet and rerun scripts/render-mixin (scripts/check-artifacts
  # fails when this file drifts from the mixin).
  # Alerts and recording rules for kube-scheduler-exporter; metric names and labels follow the
  # metric reference in README.md. Every alert links to its section in docs/runbook.md and has
  # unit tests in Alerts/tests/ (scripts/check-artifacts enforces both).
|||;

function(config={})
  local mixin = (import 'mixin.libsonnet') + { _config+:: config };
  local rules = { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups };
  {
    'Alerts/kube-scheduler-exporter.rules.yml': header + yaml.object(rules, ''),
    'Dashboards/kube-scheduler-exporter.json': json(mixin.grafanaDashboards['kube-scheduler-exporter.json']),
  }
