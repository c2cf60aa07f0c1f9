#!/usr/bin/env python3
"""Fails unless every alert in the rule files is fully documented and unit-tested.

For each alert: labels.severity, annotations summary/description/runbook_url, a runbook_url
anchor that exists in docs/runbook.md with Meaning/Impact/Diagnosis/Remediation, and at least
one promtool test case where it fires and one where it is silent; an alert with `for:` also
needs a silent evaluation earlier than a firing one within the same test case, proving the
`for:` holds it back. Every recording rule needs a promql_expr_test, and every runbook alert
section needs an alert.

Usage: check_coverage.py [REPO_ROOT]; prints one line per problem and exits 1 if any.
"""
import glob
import os
import re
import sys

import yaml

SECTION_PARTS = ("**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Remediation.**")


def duration_seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", str(text)):
        total += int(number) * units[unit]
    return total


def github_anchor(heading):
    anchor = heading.strip().lower()
    anchor = re.sub(r"[^\w\- ]", "", anchor)
    return anchor.replace(" ", "-")


def runbook_sections(runbook_text):
    """Maps anchor -> section body for every `### ` heading."""
    sections = {}
    parts = re.split(r"^### (.+)$", runbook_text, flags=re.M)
    for heading, body in zip(parts[1::2], parts[2::2]):
        body = re.split(r"^## ", body, flags=re.M)[0]
        sections[github_anchor(heading)] = (heading.strip(), body)
    return sections


def main(root):
    problems = []
    rules_files = sorted(glob.glob(os.path.join(root, "Alerts", "*.rules.yml")))
    test_files = sorted(glob.glob(os.path.join(root, "Alerts", "tests", "*.test.yml")))
    runbook_path = os.path.join(root, "docs", "runbook.md")
    if not rules_files:
        problems.append("no Alerts/*.rules.yml found")
    runbook = runbook_sections(open(runbook_path).read()) if os.path.exists(runbook_path) else {}
    if not runbook:
        problems.append("docs/runbook.md has no alert sections")

    alerts, records = {}, set()
    for path in rules_files:
        for group in yaml.safe_load(open(path))["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    if rule["alert"] in alerts:
                        problems.append(f"{rule['alert']}: defined twice")
                    alerts[rule["alert"]] = rule
                else:
                    records.add(rule["record"])

    # alert name -> list of (test case index in file, eval seconds, fires?)
    evaluations = {name: [] for name in alerts}
    tested_records = set()
    for path in test_files:
        document = yaml.safe_load(open(path))
        for index, case in enumerate(document.get("tests", [])):
            for check in case.get("alert_rule_test", []):
                name = check["alertname"]
                if name not in evaluations:
                    problems.append(f"{os.path.basename(path)}: tests unknown alert {name}")
                    continue
                fires = bool(check.get("exp_alerts"))
                evaluations[name].append(((path, index), duration_seconds(check["eval_time"]), fires))
            for check in case.get("promql_expr_test", []):
                tested_records.update(r for r in records if r in check["expr"])

    used_anchors = set()
    for name, rule in sorted(alerts.items()):
        if not rule.get("labels", {}).get("severity"):
            problems.append(f"{name}: no labels.severity")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not annotations.get(key):
                problems.append(f"{name}: no annotations.{key}")
        anchor = annotations.get("runbook_url", "").partition("#")[2]
        if "docs/runbook.md#" not in annotations.get("runbook_url", ""):
            problems.append(f"{name}: runbook_url does not point into docs/runbook.md")
        elif anchor not in runbook:
            problems.append(f"{name}: runbook anchor #{anchor} has no section in docs/runbook.md")
        else:
            used_anchors.add(anchor)
            heading, body = runbook[anchor]
            if heading != name:
                problems.append(f"{name}: runbook anchor #{anchor} leads to section {heading}")
            for part in SECTION_PARTS:
                if part not in body:
                    problems.append(f"{name}: runbook section lacks {part}")

        runs = evaluations[name]
        if not any(fires for _, _, fires in runs):
            problems.append(f"{name}: no test where it fires")
        if not any(not fires for _, _, fires in runs):
            problems.append(f"{name}: no test where it stays silent")
        if duration_seconds(rule.get("for", "0s")) > 0:
            held_back = any(
                case_a == case_b and not fires_a and fires_b and t_a < t_b
                for case_a, t_a, fires_a in runs
                for case_b, t_b, fires_b in runs
            )
            if not held_back:
                problems.append(f"{name}: no test shows `for: {rule['for']}` holding it back")

    for anchor, (heading, _) in sorted(runbook.items()):
        if anchor not in used_anchors:
            problems.append(f"docs/runbook.md: section {heading} belongs to no alert")
    for record in sorted(records - tested_records):
        problems.append(f"{record}: recording rule has no promql_expr_test")

    for problem in problems:
        print(f"coverage: {problem}")
    print(f"coverage: {len(alerts)} alerts, {len(records)} recording rules, "
          f"{len(test_files)} test files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    default_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else default_root))
