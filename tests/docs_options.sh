#!/bin/bash
# SPDX-License-Identifier: MIT
# docs_options.sh - the documentation lists what the code accepts, and
# nothing else. Each list is extracted mechanically and compared:
#   (a) bearer-token's commands, each command's options, the global options
#       and the formats of get: the code (helper/*.c), `bearer-token
#       --help`, man/bearer-token.1 and README.md's "The command line";
#   (b) the module's options, with or without "=VALUE": module/options.c,
#       man/pam_bearer.8 and README.md's "Module options";
#   (c) the config keys and the sections each is allowed in: lib/conf_keys.c's
#       key table and man/pam_bearer.conf.5.
# Every difference is one line: "what: X is in A but not in B".
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
: "${TESTS_SRCDIR:=$(cd "$(dirname "$0")" && pwd)}"
: "${PYTHON3:=python3}"
[ -x "$PYTHON3" ] || PYTHON3=python3
: "${BEARER_TOKEN_BIN:?run me from make check}"

help=$("$BEARER_TOKEN_BIN" --help) || { echo "not ok - bearer-token --help failed"; exit 1; }
exec "$PYTHON3" - "$TESTS_SRCDIR/.." "$help" <<'EOF'
import os
import re
import sys

TOP = sys.argv[1]
HELP = sys.argv[2] + "\n"
# documented as internal in bearer-token(1), left out of --help and README
INTERNAL_COMMANDS = {"pam-session", "pam-system"}
INTERNAL_OPTIONS = {("daemon", "--session")}
problems = []
checks = 0


def read(path):
    with open(os.path.join(TOP, path), encoding="utf-8") as f:
        return f.read()


def compare(what, lists, may_be_empty=False):
    """Every item that one list has and another lacks, one line each."""
    global checks
    checks += 1
    if os.environ.get("DOCS_OPTIONS_DEBUG"):
        for name, s in lists.items():
            print("# %s, %s: %s" % (what, name, " ".join(sorted(s))))
    every = set().union(*lists.values())
    for item in sorted(every):
        have = [n for n, s in lists.items() if item in s]
        lack = [n for n, s in lists.items() if item not in s]
        if lack:
            problems.append("%s: %s is in %s but not in %s"
                            % (what, item, ", ".join(have), ", ".join(lack)))
    for name, s in lists.items():
        if not s and not may_be_empty:
            problems.append("%s: nothing found in %s (is the extraction broken?)" % (what, name))


def section(text, start, end):
    """text from the line matching start up to (not with) the next matching end."""
    m = re.search(start, text, re.M)
    if not m:
        problems.append("no section %r" % start)
        return ""
    rest = text[m.end():]
    n = re.search(end, rest, re.M)
    return rest[:n.start()] if n else rest


def man_text(s):
    """roff to plain words: \\- is -, fonts and quotes go."""
    return re.sub(r"\\f[BIRP]", "", s.replace("\\-", "-").replace('"', ""))


LONG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
SHORT = re.compile(r"(?<![\w-])-[a-zA-Z](?![\w-])")

# ------------------------------------------------------------ (a) the CLI
code = "".join(read("helper/%s.c" % f) for f in ("main", "check", "daemon", "session", "broker", "system"))
table = section(code, r"^\t\} commands\[\] = \{", r"^\t\};")
commands = dict(re.findall(r'\{ "([a-z-]+)", (cmd_\w+)(?:, \w+)? \}', table))
code_opts = {}
for name, fn in commands.items():
    body = section(code, r"^(?:static )?int %s\(" % fn, r"^\}")
    opts = {"--" + o for o in re.findall(r'\{ "([a-z-]+)", \w+_argument', body)}
    opts |= set(re.findall(r'"(--[a-z][a-z-]*)"', body))
    code_opts[name] = opts
main = section(code, r"^int main\(", r"^\}")
code_global = {"--" + o for o in re.findall(r'\{ "([a-z-]+)", \w+_argument', main)}
optstring = re.search(r'getopt_long\(argc, argv, "\+?:?([^"]*)"', main).group(1)
code_global |= {"-" + c for c in optstring if c.isalpha()}
code_formats = set(re.findall(r'\{ "([a-z-]+)", print_\w+, \w+ \}', read("helper/format.c")))

# --help: "Commands:" lines (two spaces, then the command; deeper = more of it)
help_cmds, cur = {}, None
for line in section(HELP, r"^Commands:", r"^\S").splitlines():
    m = re.match(r"^  ([a-z][a-z-]*)\b", line)
    if m:
        cur = m.group(1)
        help_cmds[cur] = set()
    if cur and line.strip():
        help_cmds[cur] |= set(LONG.findall(line))
help_global = set(LONG.findall(section(HELP, r"^Options:", r"^\S")))
help_global |= set(SHORT.findall(section(HELP, r"^Options:", r"^\S")))
get_help = " ".join(section(HELP, r"^  get ", r"^  [a-z]").split())
help_formats = set(re.findall(r"([a-z][a-z-]*) \(", section(get_help, "FORMAT:", ";")))

# man page: SYNOPSIS chunks (between .br) name a command and its options
man1 = read("man/bearer-token.1")
man_cmds = {}
for chunk in section(man1, r"^\.SH SYNOPSIS", r"^\.SH ").split(".br"):
    words = [l.split(None, 1)[1] for l in chunk.splitlines()
             if l.startswith(".B ") and l.split(None, 1)[1] != "bearer-token"]
    opts = set(LONG.findall(man_text(chunk))) - {"--config"}
    if words:
        man_cmds[man_text(words[0])] = opts
    elif "--help" in opts:
        man_cmds[""] = opts
man_global = set(LONG.findall(man_text(section(man1, r"^\.SH OPTIONS", r"^\.SH "))))
man_global |= set(SHORT.findall(man_text(section(man1, r"^\.SH OPTIONS", r"^\.SH "))))
man_get = section(man1, r"^\.BI get ", r"^\.RE")
man_formats = {man_text(f) for f in re.findall(r"^\.TP\n\.B (\S+)$", man_get, re.M)}
man_internal = {c: section(man1, r"^\.B %s" % c.replace("-", r"\\-"), r"^\.TP")
                for c in INTERNAL_COMMANDS}

# README: the synopsis block and the option bullets of "The command line"
readme = read("README.md")
cli = section(readme, r"^## The command line", r"^## ")
rd_cmds = {}
for line in section(cli, r"^```$", r"^```$").splitlines():
    m = re.match(r"^bearer-token (?:\[--config FILE\] )?([a-z][a-z-]*)", line)
    opts = set(LONG.findall(line)) - {"--config"}
    if m:
        rd_cmds[m.group(1)] = opts
    elif line.strip():
        rd_cmds[""] = opts
rd_global = set()
for line in re.findall(r"^- (`-.*)$", cli, re.M):
    rd_global |= set(LONG.findall(line)) | set(SHORT.findall(line))
rd_formats = set(re.findall(r"^\| `([a-z][a-z-]*)` \|", cli, re.M))

public = set(commands) - INTERNAL_COMMANDS
compare("bearer-token commands", {
    "helper/main.c": public, "--help": set(help_cmds),
    "bearer-token.1": set(man_cmds) - {""}, "README": set(rd_cmds) - {""}})
for cmd in sorted(public):
    internal = {o for c, o in INTERNAL_OPTIONS if c == cmd}
    compare("bearer-token %s options" % cmd, {
        "helper/*.c": code_opts[cmd] - internal, "--help": help_cmds.get(cmd, set()),
        "bearer-token.1 SYNOPSIS": man_cmds.get(cmd, set()) - internal,
        "README": rd_cmds.get(cmd, set())}, may_be_empty=True)
    for c, o in INTERNAL_OPTIONS:
        if c == cmd and o not in man_cmds.get(cmd, set()):
            problems.append("bearer-token %s %s: internal, but bearer-token.1 must still "
                            "show it" % (cmd, o))
for cmd in INTERNAL_COMMANDS:
    checks += 1
    if cmd not in commands:
        problems.append("internal command %s: no longer in helper/main.c" % cmd)
    elif "Internal" not in man_internal[cmd]:
        problems.append("internal command %s: bearer-token.1 does not say it is internal" % cmd)
compare("bearer-token global options", {
    "helper/main.c": code_global, "--help": help_global,
    "bearer-token.1 OPTIONS": man_global, "README": rd_global})
compare("bearer-token --help/--version line", {
    "helper/main.c": {"--help", "--version"}, "bearer-token.1 SYNOPSIS": man_cmds.get("", set()),
    "README": rd_cmds.get("", set())})
compare("bearer-token get formats", {
    "helper/format.c": code_formats, "--help": help_formats,
    "bearer-token.1": man_formats, "README": rd_formats})

# ------------------------------------------------------------ (b) module options
opts_c = read("module/options.c")
mod_code = {n + ("" if t == "FLAG" else "=")
            for n, t in re.findall(r'\{ "([a-z_]+)", ([A-Z]+), offsetof', opts_c)}
man8 = section(read("man/pam_bearer.8"), r"^\.SH OPTIONS", r"^\.SH ")
mod_man = set()
for line in re.findall(r"^\.TP\n(\.B[IR]? .*)$", man8, re.M):
    m = re.match(r"^\.B[IR]? ([a-z_]+=?)", man_text(line))
    if m:
        mod_man.add(m.group(1))
mod_rd = {n + eq for n, eq in re.findall(
    r"^\| `([a-z_]+)(=?)", section(readme, r"^## Module options", r"^## "), re.M)}
compare("pam_bearer.so options", {
    "module/options.c": mod_code, "pam_bearer.8": mod_man, "README": mod_rd})

# ------------------------------------------------------------ (c) config keys
config_c = section(read("lib/conf_keys.c"), r"^const struct key_def pb_conf_keys", r"^\};")
where = {"D": "[defaults]", "V": "[vendor]", "R": "[profile]"}
key_code = {w: set() for w in where.values()}
for name, flags in re.findall(r'\{ "([a-z_.]+)", ([DVR |]+),', config_c):
    for f in re.findall(r"[DVR]", flags):
        key_code[where[f]].add(name)
man5 = read("man/pam_bearer.conf.5")
key_man = {}
for w, title in (("[defaults]", r"\[defaults\]"), ("[vendor]", r"\[vendor NAME\]"),
                 ("[profile]", r"\[profile NAME\]")):
    keys = set()
    sec = section(man5, r"^\.SS %s$" % title, r"^\.S[SH] ")
    for line in re.findall(r"^\.T[PQ]\n(.*)$", sec, re.M):
        if line == "any vendor key":
            keys |= key_code["[vendor]"]
            continue
        args = re.findall(r'"[^"]*"|\S+', line)[1:]
        first = args[0].strip('"') if args else ""
        if "=" in first or (len(args) > 1 and "=" in args[1]):
            keys.add(first.split("=")[0].strip())
        else:
            keys |= {a for a in args if re.fullmatch(r"[a-z_.]+", a)}
    key_man[w] = keys
compare("pam_bearer.conf keys", {
    "lib/conf_keys.c": set().union(*key_code.values()),
    "pam_bearer.conf.5": set().union(*key_man.values())})
for w in where.values():
    compare("pam_bearer.conf keys allowed in %s" % w,
            {"lib/conf_keys.c": key_code[w], "pam_bearer.conf.5": key_man[w]})

for p in problems:
    print("not ok - " + p)
print("# %d lists compared, %d differences" % (checks, len(problems)))
sys.exit(1 if problems else 0)
EOF
