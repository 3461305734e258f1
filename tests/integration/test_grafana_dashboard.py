"""packaging/grafana/srs-proxy-dashboard.json: a Grafana dashboard that
imports (valid JSON, a ${DS_PROMETHEUS} datasource input every panel uses,
unique panel ids), whose queries name only metrics of the /metrics contract
(CONTRACT below; the lead checks it against a real scrape) and which promtool
parses (each query becomes a recording rule of a rules file)."""
import json
import os
import re
import subprocess
import tempfile
import unittest

from harness import SOURCE_DIR, require

DASHBOARD = os.path.join(SOURCE_DIR, "packaging", "grafana", "srs-proxy-dashboard.json")

# The metric names GET /metrics serves (issue 15's contract). Histograms also
# have _bucket, _sum and _count series.
CONTRACT = {
    "srsproxy_sessions_active", "srsproxy_sessions_started_total", "srsproxy_sessions_ended_total",
    "srsproxy_client_bytes_total", "srsproxy_bad_input_closes_total", "srsproxy_origin_clients",
    "srsproxy_origin_bytes_total", "srsproxy_origin_connects_total", "srsproxy_origin_up",
    "srsproxy_origin_heartbeat_age_seconds", "srsproxy_registry_entries", "srsproxy_registry_capacity",
    "srsproxy_registry_picks_total", "srsproxy_registrations_total", "srsproxy_reloads_total",
    "srsproxy_worker_respawns_total", "srsproxy_config_generation", "srsproxy_build_info",
    "srsproxy_start_time_seconds", "srsproxy_proxy_info",
}
HISTOGRAMS = {"srsproxy_origin_connect_seconds"}
# What the dashboard must show (issue 15 and its brief).
REQUIRED = {
    "srsproxy_sessions_active", "srsproxy_client_bytes_total", "srsproxy_sessions_ended_total",
    "srsproxy_origin_connects_total", "srsproxy_origin_connect_seconds_bucket", "srsproxy_origin_up",
    "srsproxy_registry_entries", "srsproxy_registry_capacity", "srsproxy_registry_picks_total",
    "srsproxy_reloads_total", "srsproxy_worker_respawns_total",
}
# Grafana's variables, as Prometheus would see them after Grafana expands them.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "$instance": ".*"}

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
                "unless", "offset", "inf", "nan"}


def expand(expr):
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def metric_names(expr):
    """The metric names a PromQL expression reads: identifiers left once
    strings, label matchers, grouping lists and ranges are gone, that are not
    function calls or keywords."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        word, rest = m.group(0), s[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # 1e3, 0.5
        names.add(word)
    return names


def known(name):
    if name in CONTRACT:
        return True
    return any(name in (h + "_bucket", h + "_sum", h + "_count") for h in HISTOGRAMS)


class GrafanaDashboard(unittest.TestCase):
    def setUp(self):
        with open(DASHBOARD) as f:
            self.dash = json.load(f)
        self.panels = [p for p in self.dash["panels"] if p["type"] != "row"]
        self.exprs = [(p["title"], t["expr"]) for p in self.panels for t in p["targets"]]

    def test_imports_with_a_prometheus_input(self):
        d = self.dash
        self.assertGreaterEqual(d["schemaVersion"], 36)
        self.assertTrue(d["title"] and d["uid"])
        [inp] = d["__inputs"]
        self.assertEqual((inp["name"], inp["type"], inp["pluginId"]), ("DS_PROMETHEUS", "datasource", "prometheus"))
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertGreaterEqual(len(self.panels), 9)
        for p in self.panels:
            self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, p["title"])
            self.assertTrue(p["targets"], p["title"])
            for k in ("x", "y", "w", "h"):
                self.assertIn(k, p["gridPos"])
            for t in p["targets"]:
                self.assertEqual(t["datasource"]["uid"], "${DS_PROMETHEUS}", p["title"])
        refs = set(re.findall(r"\$\{?(\w+)", json.dumps(d)))
        defined = {v["name"] for v in d["templating"]["list"]} | {"DS_PROMETHEUS", "__rate_interval"}
        self.assertEqual(refs - defined, set())

    def test_queries_use_only_contract_metrics(self):
        self.assertEqual(metric_names('sum by (le) (rate(a_bucket{x="b{c}"}[5m])) / on (i) b * 1e3'),
                         {"a_bucket", "b"})
        seen = set()
        for title, expr in self.exprs:
            names = metric_names(expand(expr))
            self.assertTrue(names, "%s: %s reads no metric" % (title, expr))
            unknown = {n for n in names if not known(n)}
            self.assertEqual(unknown, set(), "%s: %s" % (title, expr))
            seen |= names
        self.assertEqual(REQUIRED - seen, set())

    def test_promtool_parses_every_query(self):
        promtool = require("promtool")
        rules = {"groups": [{"name": "srs_proxy_dashboard", "rules": [
            {"record": "dashboard:query_%d" % i, "expr": expand(expr)} for i, (_, expr) in enumerate(self.exprs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            json.dump(rules, f)  # JSON is YAML
        self.addCleanup(os.unlink, f.name)
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("%d rules found" % len(self.exprs), r.stdout)

    def test_promtool_rejects_a_broken_query(self):
        # The check above can fail: promtool refuses what is not PromQL.
        promtool = require("promtool")
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            json.dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum by (x (y"}]}]}, f)
        self.addCleanup(os.unlink, f.name)
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
