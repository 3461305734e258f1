"""The manuals against the code: every directive in the module tables (listed
by the srs-proxy-directives tool built from the same library) is described in
srs-proxy.conf(5) under its block with the table's syntax and default, every
flag of `srs-proxy -h` and every PROXY_* variable the code reads is in
srs-proxy(8), and neither page names one the code lacks; the stream-key
examples and registry sizes are what the code computes. Both pages render
without a warning from groff, mandoc and man.

When this fails after you added a directive, flag or variable: describe it in
man/srs-proxy.conf.5 (DIRECTIVES, under its block) or man/srs-proxy.8; the
message says exactly what is missing or different.
"""
import glob
import os
import re
import subprocess
import unittest

from harness import BINARY, SOURCE_DIR, main, require

MAN_DIR = os.path.join(SOURCE_DIR, "man")
PAGE8 = os.path.join(MAN_DIR, "srs-proxy.8")
PAGE5 = os.path.join(MAN_DIR, "srs-proxy.conf.5")
BUILD_DIR = os.environ.get("SP_BUILD_DIR") or os.path.dirname(BINARY)
TOOL = os.path.join(BUILD_DIR, "srs-proxy-directives")

# Directives whose default is a path compiled in by ./configure: the table
# holds this build's value, the manual describes it in words.
COMPILED_IN_DEFAULTS = {("main", "pid"), ("main", "error_log")}


def troff_text(line):
    """The visible text of one line of man source (fonts and escapes removed)."""
    line = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", line)
    for esc, text in (("\\-", "-"), ("\\(dq", '"'), ("\\(aq", "'"), ("\\(ga", "`"),
                      ("\\&", ""), ("\\e", "\\"), ("\\ ", " ")):
        line = line.replace(esc, text)
    if line.startswith("."):  # .B/.BR/... with quoted arguments: drop the macro
        parts = re.findall(r'"[^"]*"|\S+', line)[1:]
        line = "".join(p.strip('"') for p in parts)
    return re.sub(r"\s+", " ", line).strip()


def sections(path):
    """{SH title: [lines]} of a man page source."""
    out, current = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith('.\\"'):
                continue
            if line.startswith(".SH "):
                current = line[4:].strip().strip('"')
                out[current] = []
            elif current:
                out[current].append(line)
    return out


def tp_entries(lines):
    """(subsection, tag line, body lines) for every .TP/.TQ entry."""
    entries, sub, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".SS "):
            sub = line[4:].strip().strip('"')
        elif line in (".TP", ".TQ") and i + 1 < len(lines):
            tag = lines[i + 1]
            body = []
            j = i + 2
            while j < len(lines) and lines[j] not in (".TP", ".TQ") and not lines[j].startswith(".SS "):
                body.append(lines[j])
                j += 1
            entries.append((sub, tag, body))
            i += 1
        i += 1
    return entries


def code_directives():
    if not os.access(TOOL, os.X_OK):
        raise AssertionError("%s not built (it is the srs-proxy-directives target in tests/CMakeLists.txt)" % TOOL)
    out = subprocess.run([TOOL], capture_output=True, text=True, timeout=30, check=True).stdout
    table = {}
    for line in out.splitlines():
        context, name, syntax, default = line.split("\t")
        table[(context, name)] = (re.sub(r"\s+", " ", syntax).strip(), default)
    return table


def manual_directives():
    lines = sections(PAGE5)["DIRECTIVES"]
    found = {}
    for sub, tag, body in tp_entries(lines):
        if sub is None:
            continue
        block = sub.split()[0]
        syntax = troff_text(tag)
        name = syntax.split()[0]
        text = [troff_text(b) for b in body]
        default = next((t[len("Default:"):].strip() for t in text if t.startswith("Default:")), None)
        context = next((t[len("Context:"):].strip() for t in text if t.startswith("Context:")), None)
        meaning = " ".join(t for t in text if t and not t.startswith(("Default:", "Context:")))
        found[(block, name)] = (syntax, default, context, meaning)
    return found


class Directives(unittest.TestCase):
    def test_every_table_directive_is_in_the_manual_and_back(self):
        code, manual = code_directives(), manual_directives()
        self.assertGreater(len(code), 20)
        missing = sorted("%s: %s (syntax %r, default %r)" % (k[0], k[1], *code[k]) for k in set(code) - set(manual))
        extra = sorted("%s: %s" % k for k in set(manual) - set(code))
        self.assertEqual({"in the code, not in srs-proxy.conf(5) DIRECTIVES": missing,
                          "in srs-proxy.conf(5), not in the code": extra},
                         {"in the code, not in srs-proxy.conf(5) DIRECTIVES": [],
                          "in srs-proxy.conf(5), not in the code": []})

    def test_syntax_default_context_and_meaning_match_the_tables(self):
        code, manual = code_directives(), manual_directives()
        problems = []
        for key in sorted(set(code) & set(manual)):
            syntax, default = code[key]
            m_syntax, m_default, m_context, meaning = manual[key]
            where = "%s: %s" % key
            if m_syntax != syntax:
                problems.append("%s: manual syntax %r, table %r" % (where, m_syntax, syntax))
            if m_context != key[0]:
                problems.append("%s: \"Context: %s\", expected %r" % (where, m_context, key[0]))
            if m_default is None:
                problems.append("%s: no \"Default:\" line" % where)
            elif key in COMPILED_IN_DEFAULTS:
                if "compiled-in" not in m_default:
                    problems.append("%s: default should say it is compiled-in, got %r" % (where, m_default))
            elif m_default != (default or "none"):
                problems.append("%s: manual default %r, table %r" % (where, m_default, default or "none"))
            if len(meaning) < 15:
                problems.append("%s: says too little about what it does (%r)" % (where, meaning))
        self.assertEqual(problems, [])

    def test_registry_capacity_table_matches_the_layout(self):
        lines = sections(PAGE5)["REGISTRY"]
        rows = [l.split() for l in lines if re.match(r"^\d+[kmg]\s+\d+\s+\d+\s+\d+$", l)]
        self.assertGreaterEqual(len(rows), 2, "no capacity table in REGISTRY")
        out = subprocess.run([TOOL] + [r[0] for r in rows], capture_output=True, text=True, timeout=30,
                             check=True).stdout.split("\n")
        actual = [l.split("\t") for l in out if l]
        for row, real in zip(rows, actual):
            for documented, value in zip(row[1:], real[1:]):
                # A few entries either way is layout noise; more means the
                # table needs the tool's numbers.
                self.assertLess(abs(int(documented) - int(value)), max(3, int(value) * 3 // 100),
                                "REGISTRY table row %s; the layout gives %s" % (row, real))

    def test_stream_key_examples_match_the_normaliser(self):
        lines = [troff_text(l) for l in sections(PAGE5)["STREAM KEYS"]]
        examples = [l.split() for l in lines if re.match(r"^(rtmp|http)://\S+\s+\S+$", l)]
        self.assertGreaterEqual(len(examples), 3, "no request/key examples in STREAM KEYS")
        out = subprocess.run([TOOL, "key"] + [e[0] for e in examples], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        actual = [l.split("\t") for l in out.stdout.splitlines()]
        self.assertEqual(examples, actual, "STREAM KEYS examples (URL, key) against make_stream_key")


def help_flags():
    out = subprocess.run([BINARY, "-h"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    flags = set()
    for line in out.stdout.splitlines():
        m = re.match(r"^\s+(-\S+)", line)
        if m:
            flags.update(f for f in m.group(1).split(",") if f.startswith("-"))
    signals = re.search(r"-s signal\s*:.*:\s*(.*)$", out.stdout, re.M).group(1)
    return flags, {w.strip() for w in signals.split(",")}


class CommandLine(unittest.TestCase):
    def test_every_flag_is_in_the_manual_and_back(self):
        flags, _ = help_flags()
        self.assertGreaterEqual(len(flags), 11)
        documented = set()
        for _, tag, _ in tp_entries(sections(PAGE8)["OPTIONS"]):
            documented.update(re.findall(r"(?:^|[\s,])(-[A-Za-z?])(?=$|[\s,])", troff_text(tag)))
        self.assertEqual({"in -h, not in srs-proxy(8) OPTIONS": sorted(flags - documented),
                          "in srs-proxy(8) OPTIONS, not in -h": sorted(documented - flags)},
                         {"in -h, not in srs-proxy(8) OPTIONS": [], "in srs-proxy(8) OPTIONS, not in -h": []})
        synopsis = " ".join(troff_text(l) for l in sections(PAGE8)["SYNOPSIS"])
        for f in flags:
            self.assertIn(f[1], synopsis, "flag %s missing from SYNOPSIS" % f)

    def test_signal_words_and_signals_are_described(self):
        _, words = help_flags()
        options = " ".join(troff_text(l) for l in sections(PAGE8)["OPTIONS"])
        signals = " ".join(troff_text(t) for _, t, _ in tp_entries(sections(PAGE8)["SIGNALS"]))
        for w in words:
            self.assertIn(w, options)
            self.assertIn("(%s)" % w, signals)
        for sig in ("HUP", "QUIT", "TERM", "INT", "USR1"):
            self.assertIn(sig, signals)

    def test_every_environment_variable_is_in_the_manual_and_back(self):
        read = set()
        for path in glob.glob(os.path.join(SOURCE_DIR, "src", "**", "*.cpp"), recursive=True):
            with open(path) as f:
                read.update(re.findall(r'"(PROXY_[A-Z0-9_]+)"', f.read()))
        self.assertGreater(len(read), 10)
        env = sections(PAGE8)["ENVIRONMENT"]
        documented = set()
        for _, tag, _ in tp_entries(env):
            documented.update(re.findall(r"PROXY_[A-Z0-9_]+", troff_text(tag)))
        self.assertEqual({"read by the code, not in srs-proxy(8) ENVIRONMENT": sorted(read - documented),
                          "in srs-proxy(8) ENVIRONMENT, not read by the code": sorted(documented - read)},
                         {"read by the code, not in srs-proxy(8) ENVIRONMENT": [],
                          "in srs-proxy(8) ENVIRONMENT, not read by the code": []})


class Rendering(unittest.TestCase):
    def check_quiet(self, cmd, env=None):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {})))
        self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), " ".join(cmd))
        return r.stdout

    def test_groff_mandoc_and_man_are_silent(self):
        require("groff")
        require("mandoc")
        require("man")
        for page in (PAGE8, PAGE5):
            self.check_quiet(["groff", "-wall", "-man", "-z", page])
            self.check_quiet(["mandoc", "-T", "lint", "-W", "all", page])
            text = self.check_quiet(["man", "--warnings=all", "-l", page], env={"MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""})
            self.assertIn("SEE ALSO", text)

    def test_page8_has_the_required_sections(self):
        have = set(sections(PAGE8))
        for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "EXIT STATUS", "ENVIRONMENT",
                  "FILES", "EXAMPLES", "SEE ALSO"):
            self.assertIn(s, have)
        examples = "\n".join(sections(PAGE8)["EXAMPLES"])
        for text in ("/api/v1/srs/register", "heartbeat {", "device_id", "ports       on;", "\\-s reload",
                     "\\-t"):
            self.assertIn(text, examples)

    def test_page5_has_the_required_sections(self):
        have = set(sections(PAGE5))
        for s in ("NAME", "DESCRIPTION", "SYNTAX", "DIRECTIVES", "STREAM KEYS", "REGISTRY", "SEE ALSO"):
            self.assertIn(s, have)
        keys = " ".join(troff_text(l) for l in sections(PAGE5)["STREAM KEYS"])
        for text in ("__defaultVhost__", "vhost=", "localhost", ".m3u8"):
            self.assertIn(text, keys)


if __name__ == "__main__":
    main()
