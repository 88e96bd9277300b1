"""Find the tools a repository's CI runs: the command words of its CI config and shell scripts.

`guard lock` with no names pins what this finds. It reads GitHub Actions ``run:`` steps
(workflows and composite actions), GitLab CI ``script:`` lists, Makefile recipes and ``*.sh``
files, and takes the words in command position of each simple command: after ``;``, ``&&``,
``||``, ``|``, ``(``, ``$(``, a newline or a keyword, skipping assignments, redirections and
the options of wrappers such as ``sudo`` and ``env``. It is a reasonable tokenizer, not a
shell: a word built at run time (``$TOOL``) cannot be known and is reported as skipped.
"""

from __future__ import annotations

import os
import re

from guard.textsafe import safe

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~4 ms per check

if TYPE_CHECKING:
    from typing import Any, Iterator

MAX_FILE_BYTES = 1 << 20
MAX_FILES = 5000
SKIP_DIRS = frozenset(
    (".git", ".hg", ".svn", "node_modules", ".venv", "venv", ".tox", "__pycache__", ".mypy_cache")
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


KEYWORDS = _words(
    "if then else elif fi do done while until for in case esac select function time "
    "{ } ! [[ ]] coproc"
)
# Bash builtins (and POSIX special builtins): the shell runs its own, whatever PATH holds.
BUILTINS = _words(
    ". : [ alias bg bind break builtin caller cd command compgen complete compopt continue "
    "declare dirs disown echo enable eval exec exit export false fc fg getopts hash help "
    "history jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly "
    "return set shift shopt source suspend test times trap true type typeset ulimit umask "
    "unalias unset wait"
)
# Commands that run the next word as a command; their own options are skipped.
WRAPPERS = _words("sudo env nohup nice exec xargs time command builtin timeout stdbuf")
_WRAPPER_OPTS_WITH_ARG = {  # options of those wrappers that take a value
    "sudo": frozenset(("-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "--user")),
    "env": frozenset(("-u", "-C", "-S", "--unset", "--chdir")),
    "nice": frozenset(("-n", "--adjustment")),
    "xargs": frozenset(("-I", "-L", "-n", "-P", "-s", "-d", "-E", "-a", "--delimiter")),
    "timeout": frozenset(("-s", "-k", "--signal", "--kill-after")),
    "stdbuf": frozenset(("-i", "-o", "-e")),
}
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+@%:,-]*$")
_REDIRS = frozenset(("<", ">", ">>", "<<", "<<-", "<<<", ">&", "<&", "&>", "&>>", ">|", "<>"))
# Longest first: the tokenizer takes the first that matches.
_OPS = (
    *(";;&", "<<<", "<<-", "&>>", ";;", ";&", "&&", "||", "|&", ">>", "<<", ">&", "<&", "&>"),
    *(">|", "<>", "$(", ";", "&", "|", "(", ")", "<", ">", "`"),
)
_NON_SHELLS = ("python", "pwsh", "powershell", "cmd", "node", "ruby", "perl")


class Token:
    __slots__ = ("text", "op", "expanded", "line")

    def __init__(self, text: str, op: bool, expanded: bool, line: int) -> None:
        self.text = text
        self.op = op  # an operator: ; && || | ( ) $( ` < > …, or a newline (";")
        self.expanded = expanded  # the word holds an unquoted $ or ` expansion
        self.line = line


def tokenize(text: str) -> list[Token]:
    """Split shell text into words and operators; quotes removed, here-doc bodies skipped."""
    toks: list[Token] = []
    i, n, line = 0, len(text), 1
    heredocs: list[tuple[str, bool]] = []
    word: list[str] = []
    in_word = expanded = False

    def flush() -> None:
        nonlocal word, in_word, expanded
        if in_word:
            toks.append(Token("".join(word), False, expanded, line))
        word, in_word, expanded = [], False, False

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            if text[i + 1] == "\n":
                i += 2
                line += 1
                continue
            word.append(text[i + 1])
            in_word = True
            i += 2
            continue
        if c == "\n":
            flush()
            toks.append(Token(";", True, False, line))
            line += 1
            i += 1
            for delim, strip_tabs in heredocs:  # skip each pending here-doc body
                while i < n:
                    end = text.find("\n", i)
                    end = n if end < 0 else end
                    body = text[i:end]
                    i = end + 1
                    line += 1
                    if (body.lstrip("\t") if strip_tabs else body) == delim:
                        break
            heredocs = []
            continue
        if c in " \t\r":
            flush()
            i += 1
            continue
        if c == "#" and not in_word:
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c == "'":
            end = text.find("'", i + 1)
            end = n if end < 0 else end
            word.append(text[i + 1 : end])
            line += text.count("\n", i, end)
            in_word = True
            i = end + 1
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                elif text[j] in "$`":
                    expanded = True
                j += 1
            word.append(text[i + 1 : j].replace('\\"', '"'))
            line += text.count("\n", i, j)
            in_word = True
            i = j + 1
            continue
        if c == "$" and i + 1 < n and text[i + 1] in "{(":
            if text[i + 1] == "(" and text[i + 1 : i + 3] != "((":
                flush()
                toks.append(Token("$(", True, False, line))
                i += 2
                continue
            close = "}" if text[i + 1] == "{" else ")"
            depth, j = 0, i + 1
            while j < n:
                if text[j] == text[i + 1]:
                    depth += 1
                elif text[j] == close:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            word.append(text[i : j + 1])
            in_word = expanded = True
            i = j + 1
            continue
        if c == "$":
            word.append(c)
            in_word = expanded = True
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op is not None:
            flush()
            toks.append(Token(op, True, False, line))
            i += len(op)
            if op in ("<<", "<<-"):
                j = i
                while j < n and text[j] in " \t":
                    j += 1
                k = j
                while k < n and text[k] not in " \t\n;&|<>()":
                    k += 1
                delim = text[j:k].strip("'\"").replace("\\", "")
                if delim:
                    heredocs.append((delim, op == "<<-"))
            continue
        word.append(c)
        in_word = True
        i += 1
    flush()
    return toks


def function_names(toks: list[Token]) -> set[str]:
    """Names defined as shell functions (``name() …``) in these tokens."""
    return {
        toks[k].text
        for k in range(len(toks) - 2)
        if not toks[k].op and toks[k + 1].text == "(" and toks[k + 2].text == ")"
    }


def command_words(toks: list[Token], functions: set[str]) -> Iterator[Token]:
    """The words in command position (including those after a wrapper like sudo/env);
    ``functions`` are names whose definitions (``name() {``) are stepped over."""
    cmd = True
    skip_next = False
    wrapper: str | None = None
    state: list[str] = []  # "case-pattern" / "for" / "[[" while inside those constructs
    opened: list[bool] = []  # per open "(" or "$(": whether a command word may follow its ")"
    i = 0
    while i < len(toks):
        t = toks[i]
        i += 1
        if skip_next:
            skip_next = False
            continue
        if t.op:
            if t.text in _REDIRS:
                skip_next = True
                continue
            if state and state[-1] == "case-pattern":
                if t.text == ")":
                    state[-1] = "case-body"
                    cmd = True
                continue
            if t.text in (";;", ";&", ";;&") and state and state[-1] == "case-body":
                state[-1] = "case-pattern"
                continue
            if t.text == ";" and state and state[-1] == "for":
                state.pop()
            if t.text in ("$(", "("):
                opened.append(cmd if t.text == "$(" else False)
                cmd = True
            elif t.text == ")":
                cmd = opened.pop() if opened else False  # after $(…) the outer word goes on
            else:
                cmd = True
            wrapper = None
            continue
        w = t.text
        if state and state[-1] == "case-pattern":
            if w == "esac":
                state.pop()
                cmd = False
            continue
        if state and state[-1] in ("for", "case-head", "[["):
            if state[-1] == "for" and w == "do":
                state.pop()
                cmd = True
            elif state[-1] == "case-head" and w == "in":
                state[-1] = "case-pattern"
            elif state[-1] == "[[" and w == "]]":
                state.pop()
                cmd = False
            continue
        if state and state[-1] == "case-body" and w == "esac" and cmd:
            state.pop()
            cmd = False
            continue
        if not cmd:
            continue
        if wrapper is not None:
            if w.startswith("-"):
                if w in _WRAPPER_OPTS_WITH_ARG.get(wrapper, ()):
                    skip_next = True
                if wrapper == "command" and w in ("-v", "-V"):
                    cmd = False  # a lookup, not a run
                continue
            if wrapper == "env" and _ASSIGN.match(w):
                continue
            if wrapper == "timeout" and w[:1].isdigit():
                continue
        if _ASSIGN.match(w):
            continue
        if w in KEYWORDS:
            if w in ("for", "select"):
                state.append("for")
            elif w == "case":
                state.append("case-head")
            elif w == "[[":
                state.append("[[")
            elif w == "function":
                skip_next = True
            elif w in ("fi", "done", "}", "esac", "]]"):
                cmd = False
            continue
        if w in functions and i + 1 < len(toks) and toks[i].text == "(" and toks[i + 1].text == ")":
            i += 2  # the "( )" of a definition
            cmd = True
            continue
        yield t
        if w in WRAPPERS:
            wrapper = w
            continue
        cmd = False
        wrapper = None


class Found:
    """What discovery saw: command names with the files using them, and what it skipped."""

    def __init__(self) -> None:
        self.tools: dict[str, set[str]] = {}
        self.skipped: dict[str, tuple[str, set[str]]] = {}  # word -> (reason, files)
        self.problems: list[str] = []  # files that could not be read or parsed
        self.sources: list[str] = []  # files read, relative to the root

    def add_text(self, text: str, rel: str) -> None:
        toks = tokenize(text)
        defined = function_names(toks)
        for t in command_words(toks, defined):
            w = t.text
            reason = None
            if w in BUILTINS:
                reason = "a shell builtin"
            elif t.expanded or any(c in w for c in "*?[]{}~"):
                reason = "built at run time (an expansion), not a fixed name"
            elif "/" in w:
                reason = "a path, not looked up on PATH"
            elif w in defined:
                reason = "a function defined in the script"
            elif not w or w.startswith("-") or not _NAME.match(w):
                reason = "not a command name"
            if reason is None:
                self.tools.setdefault(w, set()).add(rel)
            else:
                key = w if len(w) <= 60 else w[:57] + "..."
                prev = self.skipped.get(key)
                files = prev[1] if prev else set()
                files.add(rel)
                self.skipped[key] = (prev[0] if prev else reason, files)


def _read(path: str) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        return None
    return data.decode("utf-8", errors="replace")


def _yaml(found: Found, path: str, rel: str) -> Any:
    from guard.errors import ConfigError
    from guard.yamlstore import parse_yaml

    text = _read(path)
    if text is None:
        found.problems.append(f"{safe(rel)}: cannot read it")
        return None
    try:
        doc = parse_yaml(rel, text.encode())
    except ConfigError as e:
        found.problems.append(str(e).replace("; the file was left unchanged", ""))
        return None
    found.sources.append(rel)
    return doc


def _shell_of(step: dict[str, Any], default: str | None) -> bool:
    sh = step.get("shell", default)
    if not isinstance(sh, str):
        return True
    first = os.path.basename(sh.split()[0]) if sh.split() else ""
    return not first.startswith(_NON_SHELLS)


def _github(found: Found, root: str) -> None:
    base = os.path.join(root, ".github")
    files: list[str] = []
    wf = os.path.join(base, "workflows")
    if os.path.isdir(wf):
        files += [
            os.path.join(wf, f) for f in sorted(os.listdir(wf)) if f.endswith((".yml", ".yaml"))
        ]
    actions = os.path.join(base, "actions")
    if os.path.isdir(actions):
        for dirpath, dirnames, filenames in os.walk(actions):
            dirnames.sort()
            files += [
                os.path.join(dirpath, f)
                for f in sorted(filenames)
                if f in ("action.yml", "action.yaml")
            ]
    for path in files:
        rel = os.path.relpath(path, root)
        doc = _yaml(found, path, rel)
        if not isinstance(doc, dict):
            continue
        default = _default_shell(doc)
        steps: list[Any] = []
        jobs = doc.get("jobs")
        if isinstance(jobs, dict):
            for job in jobs.values():
                if isinstance(job, dict) and isinstance(job.get("steps"), list):
                    jdefault = _default_shell(job) or default
                    steps += [(s, jdefault) for s in job["steps"]]
        runs = doc.get("runs")
        if isinstance(runs, dict) and isinstance(runs.get("steps"), list):
            steps += [(s, None) for s in runs["steps"]]
        for step, sdefault in steps:
            runs_shell = isinstance(step, dict) and isinstance(step.get("run"), str)
            if runs_shell and _shell_of(step, sdefault):
                found.add_text(step["run"], rel)


def _default_shell(doc: dict[str, Any]) -> str | None:
    d = doc.get("defaults")
    if isinstance(d, dict) and isinstance(d.get("run"), dict):
        sh = d["run"].get("shell")
        return sh if isinstance(sh, str) else None
    return None


def _flatten(v: Any) -> Iterator[str]:
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from _flatten(x)


def _gitlab(found: Found, root: str) -> None:
    path = os.path.join(root, ".gitlab-ci.yml")
    if not os.path.isfile(path):
        return
    doc = _yaml(found, path, ".gitlab-ci.yml")
    if not isinstance(doc, dict):
        return
    for job in doc.values():
        if isinstance(job, dict):
            for key in ("before_script", "script", "after_script"):
                for text in _flatten(job.get(key)):
                    found.add_text(text, ".gitlab-ci.yml")


def make_recipes(text: str) -> str:
    """The shell text of a Makefile's recipe lines (tab-indented), prefixes and $(VARS) aside."""
    out: list[str] = []
    cont = False
    for raw in text.splitlines():
        if raw.startswith("\t") or cont:
            line = raw.lstrip("\t") if raw.startswith("\t") else raw
            if not cont:
                line = line.lstrip("@-+ ")
            line = line.replace("$$", "\0")
            line = re.sub(r"\$[({][^)}]*[)}]|\$.", "$X", line).replace("\0", "$")
            out.append(line)
            cont = raw.endswith("\\")
        else:
            out.append("")
            cont = False
    return "\n".join(out)


def _make(found: Found, root: str) -> None:
    for name in sorted(os.listdir(root)):
        if name in ("Makefile", "makefile", "GNUmakefile") or name.endswith(".mk"):
            text = _read(os.path.join(root, name))
            if text is None:
                continue
            found.sources.append(name)
            found.add_text(make_recipes(text), name)


def _scripts(found: Found, root: str) -> None:
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for f in sorted(filenames):
            if not f.endswith(".sh"):
                continue
            count += 1
            if count > MAX_FILES:
                found.problems.append(f"more than {MAX_FILES} *.sh files; the rest were not read")
                return
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            text = _read(path)
            if text is None:
                found.problems.append(f"{safe(rel)}: cannot read it (or larger than 1 MiB)")
                continue
            found.sources.append(rel)
            found.add_text(text, rel)


def discover(root: str) -> Found:
    """Every command name the repository at ``root`` runs in CI config, Makefiles and *.sh."""
    found = Found()
    _github(found, root)
    _gitlab(found, root)
    _make(found, root)
    _scripts(found, root)
    return found
