"""Property tests for each shell's command-position parser, black-box.

Hypothesis generates command lines from a small grammar of the shell's syntax whose commands
are *recording shims* (untrusted programs on PATH that log their own name). Each line runs in a
real shell three times (`<shell> -c`, non-interactive, stdin /dev/null):

1. without the hook: the reference output and exit status;
2. with the hook, GUARD_MODE=warn: the same shims must run (as a multiset: pipeline members
   race), with the same stdout, exit status and stderr (apart from guard's own messages and
   SIGPIPE reports), and every shim that ran must have been checked — warned about in
   events.jsonl (warn answers are never cached, so each check of an untrusted shim leaves one
   line);
3. with the hook, GUARD_MODE=block: no shim runs at all.

fish is also driven at an interactive prompt through a pty ("fish-i" grammar, with wrappers
and paths, which only the Enter binding covers): every shim that ran was checked.

A failure is shrunk by hypothesis to a minimal line. Known, documented limitations are left
out of a shell's grammar with a comment pointing at its doc; discrepancies found by this test
that are not (yet) fixed have a strict-xfail reproduction at the end of this file.

Examples per shell: GUARD_PROP_EXAMPLES (default 40); generation is derandomized, so CI runs
the same lines every time (GUARD_PROP_RANDOM=1 for a fresh search).
"""

from __future__ import annotations

import os
import shutil
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import GuardEnv
from tests.shell.shellrun import FAILING_SHIM, OFFPATH_SHIMS, SHIMS, Sandbox

SHELLS = ("bash", "zsh", "fish")
EXAMPLES = int(os.environ.get("GUARD_PROP_EXAMPLES", "40"))
# GUARD_PROP_RANDOM=1: fresh random lines each run (for long local searches); CI is fixed.
RANDOM = os.environ.get("GUARD_PROP_RANDOM") == "1"

# ---------------------------------------------------------------------------------------------
# Grammar. A node is a tuple; leaves are pre-rendered text for one shell; compound nodes are
# rendered by render() with the shell's own syntax, wrapping a child in a group when its
# precedence is too low for its place (list < and-or < `!` < pipeline < command).
# ---------------------------------------------------------------------------------------------

LIST, ANDOR, NOT, PIPE, CMD = 0, 1, 2, 3, 4
Node = tuple

# Wrappers the bash and zsh hooks look through (docs/shell-bash.md, docs/shell-zsh.md, "What
# is checked"). `xargs` and `exec` are separate forms below (they need stdin / a subshell).
# fish scripts get none: by-name protection does not look through wrappers there
# (docs/shell-fish.md, "What fish cannot cover").
WRAPPERS = (
    "command",
    "env",
    "env A=1",
    "env -i A=1",  # clears PATH: the shim is then not found, by the shell or by guard
    "env -u HOME",
    "nice",
    "nice -n 5",
    "timeout 5",
    "timeout -k 1 5",
    "nohup",  # stdout is a pipe or /dev/null here, so no nohup.out
    "stdbuf -o0",
    "stdbuf -oL -e0",
    "env --",
    "nice -n 5 --",
)
XARGS = ("xargs", "xargs -n1", "xargs -r", "xargs -0")
ARGS = ("x", "-n", "'a b'", "--")
REDIRS_POST = (">/dev/null", "2>&1", "</dev/null", "2>/dev/null", ">>/dev/null")
REDIRS_PRE = (">/dev/null", "2>/dev/null", "</dev/null")  # fish has no leading redirection

# A PATH assignment prefix (`PATH=DIR cmd`) changes where the shell looks the command up: one
# leaf in ten runs a shim that only exists in a directory off PATH, or sets PATH for a builtin.
# Every hook resolves it now (see FIXED at the end of this file); GUARD_PROP_PATH_PREFIX=0
# takes it out of the grammar.
PATH_PREFIX = os.environ.get("GUARD_PROP_PATH_PREFIX", "1") != "0"


def _quote(shell: str, text: str) -> str:
    if shell.startswith("fish"):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + text.replace("'", "'\\''") + "'"


# Dialects: "bash", "zsh", "fish" (`fish -c`: protection by name only) and "fish-i" (fish
# syntax typed at an interactive prompt, where the Enter binding scans the whole line).


def shim_word(shell: str, root: str) -> st.SearchStrategy[str]:
    """A shim as a command word, written the ways a user may write it."""
    forms = [
        lambda n: n,
        lambda n: f"'{n}'",
        lambda n: f'"{n}"',
        lambda n: f"{n[0]}''{n[1:]}",
    ]
    if shell != "fish":
        # paths: not covered by the by-name functions that protect fish scripts
        # (docs/shell-fish.md, "What fish cannot cover": only names on the list are checked).
        forms += [lambda n: f"./bin/{n}", lambda n: f"{root}/bin/{n}"]
    if not shell.startswith("fish"):
        forms.append(lambda n: "\\" + n)  # in fish `\q` is an escape sequence
    return st.builds(
        lambda f, n: f(n), st.sampled_from(forms), st.sampled_from(SHIMS + (FAILING_SHIM,))
    )


def leaf(shell: str, root: str, offbin: str) -> st.SearchStrategy[Node]:
    """A simple command: [assignment] [redirection] [wrappers] WORD [args] [redirections]."""
    fish = shell.startswith("fish")
    status = "$status" if fish else "$?"
    builtins = ["true", "false", "echo x", f"echo {status}"] + ([] if fish else [":"])
    external_ok = st.one_of(shim_word(shell, root), st.sampled_from(["true", "echo x"]))
    # fish scripts: by-name protection does not look through wrappers (docs/shell-fish.md,
    # "What fish cannot cover"); at the prompt the Enter scan does.
    wrappers = (
        st.just(())
        if shell == "fish"
        else st.lists(st.sampled_from(WRAPPERS), max_size=2).map(tuple)
    )
    assigns = ["", "A=1 ", "A=1 B=2 "]
    here = () if fish else ("<<<x",)

    @st.composite
    def simple(draw: st.DrawFn) -> Node:
        wr = draw(wrappers)
        word = draw(
            external_ok if wr else st.one_of(shim_word(shell, root), st.sampled_from(builtins))
        )
        if PATH_PREFIX and draw(st.integers(0, 9)) == 0:
            word = draw(st.sampled_from(OFFPATH_SHIMS + ("true",)))
            assign = f"PATH={offbin}:/usr/bin:/bin "
        else:
            assign = draw(st.sampled_from(assigns))
        args = draw(st.lists(st.sampled_from(ARGS), max_size=2))
        pre = "" if fish else draw(st.sampled_from(("",) + REDIRS_PRE))
        post = draw(st.lists(st.sampled_from(REDIRS_POST + here), max_size=2))
        parts = [assign + (pre + " " if pre else "")] + list(wr) + [word] + args + post
        return ("leaf", " ".join(p for p in parts if p).replace("  ", " "), CMD)

    @st.composite
    def xargs(draw: st.DrawFn) -> Node:
        x = draw(st.sampled_from(XARGS))
        return ("leaf", f"echo i | {x} {draw(shim_word(shell, root))}", PIPE)

    forms = [simple()]
    if shell != "fish":
        forms.append(xargs())
    if not fish:

        @st.composite
        def var(draw: st.DrawFn) -> Node:
            n = draw(st.sampled_from(SHIMS))
            use = draw(st.sampled_from(["$X", '"$X"', "${X}"]))
            return ("leaf", f"X={n}; {use} {draw(st.sampled_from(ARGS))}", LIST)

        forms += [
            var(),
            # "$@" as the command: the function runs whatever it was given
            st.builds(
                lambda w: ("leaf", f'run() {{ "$@"; }}; run {w} x', LIST), shim_word(shell, root)
            ),
            st.just(("leaf", ". ./lib.sh", CMD)),  # lib.sh runs `qb lib`
        ]
        # Not here: `trap CMD EXIT|ERR|INT`. bash and zsh run no DEBUG trap inside another
        # trap's handler (docs/shell-zsh.md, "Not covered"; docs/shell-bash.md, "Trap handlers").
    else:
        forms += [
            st.builds(lambda n: ("leaf", f"set X {n}; $X", LIST), st.sampled_from(SHIMS)),
            # names only: what `$argv` runs inside a function is protected by name, also at the
            # prompt (docs/shell-fish.md: "Inside functions … only names on the list")
            st.builds(
                lambda w: ("leaf", f"function run; $argv; end; run {w} x", LIST),
                shim_word("fish", root),
            ),
            st.just(("leaf", "source lib.fish", CMD)),  # lib.fish runs `qb lib`
        ]
        if shell == "fish":  # (an EXIT trap at the prompt would fire only when the test ends)
            forms.append(
                st.builds(lambda n: ("leaf", f"trap {n} EXIT", CMD), st.sampled_from(SHIMS))
            )
    if PATH_PREFIX:
        # a scoped PATH change, then the shim under the shell's own PATH
        scope = (
            "begin; set -lx PATH /usr/bin /bin; true; end" if fish else "(PATH=/usr/bin:/bin; true)"
        )
        forms.append(st.just(("leaf", scope, CMD)))
    return st.one_of(*forms)


@cache
def grammar(shell: str, root: str, offbin: str) -> st.SearchStrategy[str]:
    posix = not shell.startswith("fish")

    def extend(c: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        two = st.tuples(c, c)
        kinds = [
            two.map(lambda t: ("seq", *t)),
            two.map(lambda t: ("and", *t)),
            two.map(lambda t: ("or", *t)),
            two.map(lambda t: ("pipe", *t)),
            c.map(lambda a: ("not", a)),
            c.map(lambda a: ("group", a)),
            st.tuples(c, c, st.booleans()).map(lambda t: ("if", *t)),
            st.tuples(c, c).map(lambda t: ("while", *t)),
            c.map(lambda a: ("case", a)),
            c.map(lambda a: ("for", a)),
            st.tuples(c, st.booleans()).map(lambda t: ("func", *t)),
            st.tuples(c, st.integers(0, 4)).map(lambda t: ("cmdsub", *t)),
            c.map(lambda a: ("bg", a)),
        ]
        kinds.append(c.map(lambda a: ("eval", a)))
        if posix:
            kinds += [
                c.map(lambda a: ("sub", a)),
                st.tuples(c, st.sampled_from(SHIMS + (FAILING_SHIM,))).map(
                    lambda t: ("execsub", *t)
                ),
            ]
        return st.one_of(*kinds)

    tree = st.recursive(leaf(shell, root, offbin), extend, max_leaves=6)
    return tree.map(lambda n: render(shell, n)[0])


def render(shell: str, n: Node) -> tuple[str, int]:
    """Text of node ``n`` for ``shell`` and its precedence."""
    fish = shell.startswith("fish")

    def at(child: Node, need: int) -> str:
        text, prec = render(shell, child)
        if prec >= need:
            return text
        return f"begin; {text}; end" if fish else f"{{ {text}; }}"

    kind = n[0]
    if kind == "leaf":
        return n[1], n[2]
    if kind == "seq":
        return f"{at(n[1], LIST)}; {at(n[2], LIST)}", LIST
    if kind in ("and", "or"):
        op = "&&" if kind == "and" else "||"
        return f"{at(n[1], ANDOR)} {op} {at(n[2], NOT)}", ANDOR
    if kind == "pipe":
        return f"{at(n[1], PIPE)} | {at(n[2], CMD)}", PIPE
    if kind == "not":
        return f"{'not' if fish else '!'} {at(n[1], PIPE)}", NOT
    if kind == "group":
        return at(n[1], CMD + 1), CMD
    if kind == "sub":
        return f"( {at(n[1], LIST)} )", CMD
    if kind == "if":
        cond, body, other = at(n[1], LIST), at(n[2], LIST), n[3]
        if fish:
            tail = "; else; echo else; end" if other else "; end"
            return f"if {cond}; {body}{tail}", CMD
        tail = "; else echo else; fi" if other else "; fi"
        return f"if {cond}; then {body}{tail}", CMD
    if kind == "while":
        cond, body = at(n[1], LIST), at(n[2], LIST)
        if fish:
            return f"while {cond}; {body}; break; end", CMD
        return f"while {cond}; do {body}; break; done", CMD
    if kind == "case":
        body = at(n[1], LIST)
        if fish:
            return f"switch x; case y; echo no; case x; {body}; end", CMD
        return f"case x in y) echo no;; x) {body};; esac", CMD
    if kind == "for":
        body = at(n[1], LIST)
        if fish:
            return f"for i in 1 2; {body}; end", CMD
        return f"for i in 1 2; do {body}; done", CMD
    if kind == "func":
        body, args = at(n[1], LIST), " a1" if n[2] else ""
        if fish:
            return f"function fn; {body}; end; fn{args}", LIST
        return f"fn() {{ {body}; }}; fn{args}", LIST
    if kind == "cmdsub":
        inner, style = at(n[1], LIST), n[2]
        if fish:
            forms = [f"echo ({inner})", f"echo $({inner})", f'echo "$({inner})"']
            forms.append(f'set X ({inner}); echo "$X"')
            forms.append(f"cat ({inner} | psub)")
        else:
            forms = [f"echo $( {inner} )", f'echo "$( {inner} )"', f'X=$( {inner} ); echo "$X"']
            forms.append(f"echo `{inner}`" if "`" not in inner and "\\" not in inner else forms[0])
            forms.append(f"cat <( {inner} )")
        text = forms[style]
        return text, LIST if text.startswith(("X=", "set ")) else CMD
    if kind == "bg":
        return f"{at(n[1], ANDOR)} & wait", LIST
    if kind == "eval":
        return f"eval {_quote(shell, at(n[1], LIST))}", CMD
    if kind == "execsub":
        return f"( {at(n[1], LIST)}; exec {n[2]} )", CMD
    raise AssertionError(kind)


# ---------------------------------------------------------------------------------------------
# The property
# ---------------------------------------------------------------------------------------------


_boxes: dict[str, Sandbox] = {}


def _sandbox(tmp_path_factory: pytest.TempPathFactory, shell: str) -> Sandbox:
    """One sandbox per shell for the whole session (the property test and the reproductions
    share it: starting one renders the hook and warms guard's OS-package index)."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    if shell in _boxes:
        return _boxes[shell]
    root = tmp_path_factory.mktemp(f"prop-{shell}")
    ge = GuardEnv.create(root)
    _boxes[shell] = Sandbox(ge, shell)
    return _boxes[shell]


@pytest.fixture(scope="module", params=SHELLS)
def box(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return _sandbox(tmp_path_factory, request.param)


def check_line(box: Sandbox, line: str) -> None:
    """The three runs of one line and every assertion of the property."""
    bare = box.run(line, hook=False)
    warn = box.run(line, hook=True, mode="warn")
    ctx = f"\nline: {line}\nbare: {bare}\nwarn: {warn}"
    # Pipeline members run concurrently: compare what ran as a multiset, not in order.
    assert sorted(warn.executed) == sorted(bare.executed), "warn mode changed what ran" + ctx
    unchecked = set(warn.executed) - set(warn.warned)
    assert not unchecked, f"ran without a check: {sorted(unchecked)}" + ctx
    assert warn.rc == bare.rc, "warn mode changed the exit status" + ctx
    assert warn.plain(warn.stdout) == bare.stdout, "warn mode changed stdout" + ctx
    assert warn.stderr_plain() == bare.stderr_plain(), "warn mode changed stderr" + ctx
    block = box.run(line, hook=True, mode="block")
    assert block.executed == [], f"block mode ran {block.executed}\nline: {line}\n{block}"


def test_property_every_executed_command_was_checked(box: Sandbox) -> None:
    lines = grammar(box.shell, str(box.ge.root), str(box.offbin))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(line=lines)
    def prop(line: str) -> None:
        check_line(box, line)

    prop()


# ---------------------------------------------------------------------------------------------
# Discrepancies the property found, shrunk to a minimal line. Each runs in block mode and
# asserts what a correct hook must do: the shim never runs, and the shell does not crash. A new
# one goes here once its hook is fixed; until then, as a strict xfail of its own.
# ---------------------------------------------------------------------------------------------

# Found by the property test and fixed since: each stays as a regression test.
FIXED = [
    # fish: a command-scoped PATH fired the hook's `--on-variable PATH` handler, which swapped
    # the by-name functions for the new PATH's list; fish sends no event when the scope ends,
    # so the real PATH's functions were gone for the rest of the script (now names are only
    # ever added outside the prompt; docs/shell-fish.md).
    ("fish", "PATH=/usr/bin:/bin true; qa"),
    ("fish", "begin; set -lx PATH /usr/bin /bin; true; end; qa"),
    ("fish", "PATH=/usr/bin:/bin true | qa"),
    # ... and erasing a function while a pipeline calling it started made fish 3.6 abort
    # (SIGABRT, io.cpp:190 "io_buffer_t destroyed with outstanding fillthread").
    ("fish", "qa | PATH=/usr/bin:/bin true"),
    # (held before the fix too, and must keep holding: a shim only on the scoped PATH)
    ("fish", "PATH={off}:/usr/bin:/bin qx"),
    # fish at the prompt: the Enter scan did not look into eval strings, and inside one
    # `command X` (also env, nice, xargs …) bypasses the by-name functions.
    ("fish-i", "eval 'command qa'"),
    ("fish-i", "eval command qa"),
    # fish at the prompt: a command-scoped PATH the Enter scan must resolve the word in
    ("fish-i", "env PATH={off}:/usr/bin:/bin qx"),
    ("fish-i", "PATH={off}:$PATH command qx"),
    ("fish-i", "begin; set -lx PATH {off} $PATH; command qx; end"),
    # zsh: a command-scoped PATH (prefix assignment, `env PATH=…`) is now resolved with that
    # PATH (docs/shell-zsh.md, "Command-scoped PATH").
    ("zsh", "PATH={off}:/usr/bin:/bin qx"),
    ("zsh", "env PATH={off}:/usr/bin:/bin qx"),
    # zsh runs no DEBUG trap inside a trap handler: the hook checks a handler's commands when
    # `trap` (or a TRAPxxx function definition) sets it.
    ("zsh", "trap qa EXIT; true"),
    ("zsh", "trap qa ERR; false"),
    # bash: a command-scoped PATH (prefix assignment, `env PATH=…`) is now resolved with that
    # PATH (docs/shell-bash.md, "Command-scoped PATH").
    ("bash", "PATH={off}:/usr/bin:/bin qx"),
    ("bash", "env PATH={off}:/usr/bin:/bin qx"),
    # bash runs no DEBUG trap inside a trap handler: the hook checks a handler's commands when
    # `trap` sets it (docs/shell-bash.md, "Trap handlers").
    ("bash", "trap qa EXIT; true"),
    ("bash", "trap qa ERR; false"),
]


@pytest.mark.parametrize(("shell", "line"), FIXED, ids=[f"{s}: {ln}" for s, ln in FIXED])
def test_fixed_discrepancy(tmp_path_factory: pytest.TempPathFactory, shell: str, line: str) -> None:
    reproduce(tmp_path_factory, shell, line)


def reproduce(tmp_path_factory: pytest.TempPathFactory, shell: str, line: str) -> None:
    """Block mode (`-c`): the shim never runs and the shell does not crash; at the fish prompt
    (warn mode, a blocked line stays in the buffer): every shim that ran was checked first."""
    box = _sandbox(tmp_path_factory, shell.split("-")[0])
    line = line.format(off=box.offbin)
    if shell == "fish-i":  # warn mode at a prompt: was it checked before it ran?
        from tests.shell.ptyshell import PtyShell

        env = {**box.env(hook=True, mode="warn"), "TERM": "xterm"}
        with PtyShell([box.exe, "-i"], env, cwd=str(box.ge.root), ctty=True) as sh:
            sh.run("set -g fish_greeting")
            box.reset()
            r = box.collect(line, 0, sh.run(line), "")
        assert r.executed, f"nothing ran (warn mode runs what it warns about): {r}"
        assert set(r.executed) <= set(r.warned), f"ran without a check: {r}"
        return
    r = box.run(line, hook=True, mode="block")
    assert r.rc >= 0 and "failed assertion" not in r.stderr, f"{shell} crashed: {r}"
    assert r.executed == [], f"block mode ran {r.executed}: {r}"


# ---------------------------------------------------------------------------------------------
# fish at the prompt: the Enter binding scans the whole typed line, so wrappers and paths are
# in this grammar ("fish-i"). Driven through a pty (Enter really typed); warn mode only, since a
# blocked line stays in the buffer for editing. Property: every shim that ran was checked.
# ---------------------------------------------------------------------------------------------

FISH_I_EXAMPLES = max(5, EXAMPLES // 3)


def test_property_fish_interactive_every_executed_command_was_checked(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.shell.ptyshell import PtyShell

    box = _sandbox(tmp_path_factory, "fish")
    lines = grammar("fish-i", str(box.ge.root), str(box.offbin))
    env = box.env(hook=True, mode="warn")
    env["TERM"] = "xterm"
    with PtyShell([box.exe, "-i"], env, cwd=str(box.ge.root), ctty=True, timeout=30) as sh:
        sh.run("set -g fish_greeting")

        @settings(
            max_examples=FISH_I_EXAMPLES,
            deadline=None,
            derandomize=not RANDOM,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(line=lines)
        def prop(line: str) -> None:
            box.reset()
            out = sh.run(line)
            r = box.collect(line, 0, out, "")
            unchecked = set(r.executed) - set(r.warned)
            assert not unchecked, f"ran without a check: {sorted(unchecked)}\n{r}"

        prop()
