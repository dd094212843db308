#!/usr/bin/env python3
"""Checks the shape of deploy/prometheus/alerts.yml and that alerts_test.yml covers it.

Every alerting rule must have a `for:`, a severity label (critical or warning) and non-empty
summary and description annotations; alerts_test.yml must have, for every alert, a case
where it fires (non-empty exp_alerts, each with labels and annotations) and a case where
it must not (exp_alerts: []). `promtool test rules` checks that the cases hold; this checks
that none is missing. Usage: prometheus_rules_coverage.py ALERTS_YML ALERTS_TEST_YML
"""
import sys

import yaml


def main(alerts_path, tests_path):
    with open(alerts_path, encoding="utf-8") as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"] if "alert" in r]
    with open(tests_path, encoding="utf-8") as f:
        cases = [c for t in yaml.safe_load(f)["tests"] for c in t.get("alert_rule_test", [])]

    problems = []
    for rule in rules:
        name = rule["alert"]
        if "for" not in rule:
            problems.append(f"{name}: no for:")
        if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
            problems.append(f"{name}: severity is not critical or warning")
        for key in ("summary", "description"):
            if not str(rule.get("annotations", {}).get(key, "")).strip():
                problems.append(f"{name}: no {key} annotation")
        mine = [c for c in cases if c["alertname"] == name]
        firing = [c for c in mine if c.get("exp_alerts")]
        if not firing:
            problems.append(f"{name}: no test case where it fires")
        if not any(not c.get("exp_alerts") for c in mine):
            problems.append(f"{name}: no test case where it must not fire")
        for c in firing:
            for a in c["exp_alerts"]:
                if not a.get("exp_labels") or not a.get("exp_annotations"):
                    problems.append(f"{name} at {c['eval_time']}: expected alert without "
                                    "labels or annotations")
    known = {r["alert"] for r in rules}
    problems += [f"test case for unknown alert {c['alertname']}" for c in cases
                 if c["alertname"] not in known]

    print(f"{len(rules)} alerts, {len(cases)} test cases in {tests_path}")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems or not rules else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
