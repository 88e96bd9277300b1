# guard — fish hook. `guard hook fish | source`, or source the file `guard hook --path fish`
# prints. The first line (`set -g __guard_bin …`) is written by `guard hook fish`.
#
# fish has no hook that can cancel a command (fish_preexec only observes), so guard works in
# two layers (docs/shell-fish.md):
#   1. interactive: Enter is bound to __guard_enter, which finds every command position of the
#      whole buffer (pipes, ; && || and or not, begin…end, ( ) and $( ), wrappers such as env
#      or sudo) and runs `commandline -f execute` only when every word is allowed;
#   2. everywhere (also `fish -c` and scripts, where no key is pressed): each name whose PATH
#      winner is not trusted gets a function of that name that checks before it runs the file.
# The check itself is fork-free while nothing changed: an `ok` answer per word is cached with a
# stamp and the paths it depends on (docs/hook-protocol.md); Python runs only on a miss, once
# per command line for all missing words.

if set -q __guard_loaded
    return 0 # sourced twice: everything is in place already
end
set -g __guard_loaded 1
set -g __guard_lv # names of the __guard_L_<line> variables (__guard_remember)
set -g __guard_ln 0

# --- the tokenizer --------------------------------------------------------------------------
# One PCRE2 pattern splits a command line into separators, redirections, comments and words; a
# word keeps its quotes and its balanced ( ) / $( ) substitutions (pattern B, recursive).
# Newlines are mapped to \x1e before matching so every token stays on one output line.
set -g __guard_re_B '(?(DEFINE)(?<B>(?:[^()\'"\\\\]|\\\\[\s\S]|\'(?:[^\'\\\\]|\\\\[\s\S])*\'|"(?:[^"\\\\$]|\\\\[\s\S]|\$(?!\()|\$\((?&B)\))*"|\((?&B)\))*))'
set -g __guard_re_word '(?:[^\s;&|<>()\'"\\\\\x1e]|&(?![&|>\s;\x1e]|$)|\\\\[\s\S]|\'(?:[^\'\\\\]|\\\\[\s\S])*\'|"(?:[^"\\\\$]|\\\\[\s\S]|\$(?!\()|\$\((?&B)\))*"|\$?\((?&B)\))+'
set -g __guard_re_tok '\\\\\x1e|&&|\|\||&\||[0-9]*>\||\||;|\x1e|(?:[0-9]+|&)?(?:>>|>|<)\??(?:&(?:[0-9]+|-))?|&|#[^\x1e]*|'$__guard_re_word'|\S'$__guard_re_B
# bodies of unquoted ( ) / $( ) in a word; quoted strings are skipped whole
set -g __guard_re_sub '\'(?:[^\'\\\\]|\\\\[\s\S])*\'|\\\\[\s\S]|"(?:[^"\\\\$]|\\\\[\s\S]|\$(?!\()|\$\((?&B)\))*"|\$?\(((?&B))\)|[^\'"\\\\(]+|[\s\S]'$__guard_re_B
# contents of double-quoted strings, then the $( ) bodies inside one
set -g __guard_re_dq '\'(?:[^\'\\\\]|\\\\[\s\S])*\'|\\\\[\s\S]|"((?:[^"\\\\$]|\\\\[\s\S]|\$(?!\()|\$\((?&B)\))*)"|\$?\((?&B)\)|[^\'"\\\\(]+|[\s\S]'$__guard_re_B
set -g __guard_re_dqsub '\\\\[\s\S]|\$\(((?&B))\)|[^\\\\$]+|\$'$__guard_re_B

# Wrappers whose argument is itself a command, with their options that take a separate value.
set -g __guard_wrappers env sudo doas nohup nice timeout stdbuf xargs
set -g __guard_wopt_env -u --unset -C --chdir -S --split-string -a --argv0
set -g __guard_wopt_sudo -u --user -g --group -h --host -p --prompt -C --close-from -D --chdir -r --role -t --type -U --other-user -T --command-timeout -R --chroot
set -g __guard_wopt_doas -u -C
set -g __guard_wopt_nohup
set -g __guard_wopt_nice -n --adjustment
set -g __guard_wopt_timeout -s --signal -k --kill-after
set -g __guard_wopt_stdbuf -i --input -o --output -e --error
set -g __guard_wopt_xargs -a --arg-file -d --delimiter -E -I -L -n --max-args -P --max-procs -s --max-chars --process-slot-var
set -g __guard_wopt_command
set -g __guard_wopt_exec

# The fast path of the scan. Every fish command costs a few µs (a command substitution
# ~20–50), so a line of plain words — none of: quotes, escapes, expansions, ( ), comments,
# `&` to background, `>|`/`&|`, `PATH=` — is not tokenized: one regex takes the first word
# of each command (after VAR=value prefixes), and as long as none of them is a keyword,
# wrapper, abbreviation, assignment, redirection or `&` (those take the full scan), the
# first words are exactly the command words. (A first word is taken up to whitespace or
# `; |`, so an empty one is an empty command, never a skipped one.)
set -g __guard_re_hard '[$*?{}~%\'"\\\\()#\x1f\[\]]|>\||&\||(?<![&>])&(?![&>])|PATH='
set -g __guard_re_first '(?:^|\x1e|;|\|\||&&|\|)\s*(?:[A-Za-z_][A-Za-z0-9_]*=[^\s\x1e;|&<>]*\s+)*([^\s\x1e;|]*)'
set -g __guard_re_slow '^(?:and|or|not|!|begin|if|while|else|time|builtin|end|command|exec|for|switch|case|eval|set|fish_add_path)$|[<>=&]|(?:^|/)(?:'(string join '|' -- $__guard_wrappers)')$'

function __guard_scan --argument-names text
    # Appends to __guard_ws every word that will be looked up as an external command in $PATH,
    # to __guard_sw/__guard_sp the words looked up in another PATH (with that PATH), and to
    # __guard_dyn a description of each part that cannot be known before it runs.
    if not set -q __guard_xp[1]; and not string match -qr -- $__guard_re_hard $text
        set -l firsts (string match -arg -- $__guard_re_first $text)
        set -q firsts[1]; or return 0
        if not string match -qr -- $__guard_re_slow $firsts; and not abbr -q -- $firsts
            for w in $firsts
                # (a function named like a program is checked as that program, as below)
                test -n "$w"; or continue
                if builtin -q -- $w
                    set -g __guard_nomem 1 # (__guard_nomem: see __guard_remember)
                    continue
                end
                if string match -q -- '*/*' $w
                    string match -q -- '/*' $w; or set -g __guard_nomem 1
                else if not command -q -- $w
                    set -g __guard_nomem 1
                    continue
                end
                contains -- $w $__guard_ws; or set -a __guard_ws $w
            end
            return 0
        end
    end
    set -l toks (string match -ar -- $__guard_re_tok $text) \x1e # \x1e: the last command ends
    set -l state cmd # cmd: a command word comes next; args: arguments; wrap: inside a wrapper;
    # eval, set, fish_add_path: that command's arguments are held until it ends
    set -l wrap # the wrapper whose options are being skipped
    set -l wdone 0 # the wrapper saw `--`
    set -l wpos 0 # positional words the wrapper still owns (timeout's DURATION)
    set -l wskip 0 # the next word is an option's value
    set -l target 0 # the next word is a redirection target
    set -l scoped # the PATH this command is looked up in (`PATH=… cmd`, `env PATH=… cmd`)
    set -l held # the expanded arguments of eval / set / fish_add_path
    set -l helddyn 0 # … one of which is a command substitution
    while set -q toks[1]
        set -l t $toks[1]
        set -e toks[1]
        switch $t
            case \x1e ';' '&' '|' '&&' '||' '&|' '>|' '1>|' '2>|'
                # the command ended: what eval runs, what PATH set assigns, is known now
                switch $state
                    case eval
                        __guard_scan_eval $helddyn $held
                    case set fish_add_path
                        __guard_setpath $state $helddyn $held
                end
                set state cmd
                set target 0
                set scoped
                continue
            case '\\'\x1e '#*'
                continue
            case '*>|'
                string match -qr '^[0-9]+>\|$' -- $t; and set -p toks \x1e # 3>| pipes too
                continue
            case '*>*' '*<*'
                if string match -qr '^(?:[0-9]+|&)?(?:>>|>|<)\??(?:&(?:[0-9]+|-))?$' -- $t
                    string match -qr '&(?:[0-9]+|-)$' -- $t; or set target 1
                    continue
                end
        end
        # An argument matters only when it holds a ( ) substitution: the common case leaves
        # here, after the separators above (every fish command costs µs; keep this path short).
        test $state = args; and not string match -q -- '*(*' $t; and continue
        set -l lit 0
        if string match -q -- \x1f'*' $t
            # a literal word produced by expanding a variable in command position
            set t (string sub -s 2 -- $t)
            set lit 1
        end
        set -l nsub 0
        if test $lit = 0; and string match -q -- '*(*' $t
            set -l bodies (string match -arg -- $__guard_re_sub $t)
            if string match -q -- '*"*' $t
                for dq in (string match -arg -- $__guard_re_dq $t)
                    set -a bodies (string match -arg -- $__guard_re_dqsub $dq)
                end
            end
            set nsub (count $bodies)
            for b in $bodies
                __guard_scan $b
            end
        end
        if test $target = 1
            set target 0
            continue
        end
        switch $state
            case args
                continue
            case for
                # the loop variable gets values the scan cannot know
                set -a __guard_setvars $t
                set state args
                continue
            case eval set fish_add_path
                # their arguments, expanded as fish will (no ( ) here, so this runs nothing)
                if test $nsub -gt 0; or begin; set -q __guard_setvars[1]; and __guard_uses_setvar $t; end
                    set helddyn 1
                else if test $lit = 1; or not string match -qr -- '[$*?{}~%\'"\\\\]' $t
                    set -a held $t
                else
                    set -l __guard_x
                    eval "set -l -- __guard_x $t" 2>/dev/null
                    set -a held $__guard_x
                end
                continue
        end
        if test $state = cmd; and string match -q -- '*=*' $t; and test $lit = 0
        and string match -qr '^[A-Za-z_][A-Za-z0-9_]*=' -- $t
            # VAR=value prefix (its substitutions were scanned above); PATH= scopes the lookup
            if string match -q -- 'PATH=*' $t
                set scoped (__guard_pathval (string sub -s 6 -- $t))
                or set -a __guard_dyn "PATH not known before it runs: "(string escape -- $t)
            end
            continue
        end
        if test $nsub -gt 0
            set -a __guard_dyn "command substitution in command position: "(string escape -- $t)
            set state args
            continue
        end
        set -l words $t
        if test $lit = 0; and string match -qr -- '[$*?{}~%\'"\\\\]' $t
            # Expand exactly as fish will: no ( ) here, so this runs nothing.
            set -g __guard_nomem 1 # the same text may expand differently next time
            set -l __guard_x
            eval "set -l -- __guard_x $t" 2>/dev/null
            set words $__guard_x
            if not set -q words[1]
                set state args
                continue
            end
            for x in $words[-1..2]
                set -p toks \x1f$x
            end
        end
        set -l w $words[1]
        if test $state = wrap
            if test $wskip = 1
                set wskip 0
                continue
            end
            if test $wdone = 0; and string match -q -- '-?*' $w
                if test "$w" = --
                    set wdone 1
                else if test $wrap = command; and contains -- $w -s -v -q -a --search --query --all
                    set state args # a lookup only, nothing runs
                else if test $wrap = sudo; and contains -- $w -e --edit -l --list -v --validate -V --version -h --help
                    set state args
                else
                    set -l v __guard_wopt_$wrap
                    contains -- $w $$v; and set wskip 1
                end
                continue
            end
            if contains -- $wrap env sudo doas; and string match -qr '^[A-Za-z_][A-Za-z0-9_]*=' -- $w
                # env looks its command up in the PATH it sets (the last one wins)
                test $wrap = env; and string match -q -- 'PATH=*' $w
                and set scoped (string sub -s 6 -- $w)
                continue
            end
            if test $wpos -gt 0
                set wpos (math $wpos - 1)
                continue
            end
        else
            # state cmd: fish's own words first (a VAR=value prefix was taken above; one that
            # comes from expanding a variable is a command name to fish, not an assignment)
            set -l own 0 # a keyword, builtin or function: a scoped PATH reaches what it runs
            switch $w
                case and or not '!' begin if while else time builtin
                    set own 1
                case end
                    set state args
                    continue
                case command exec
                    set state wrap
                    set wrap $w
                    set wdone 0
                    set wpos 0
                    set wskip 0
                    continue
                case for
                    set -g __guard_nomem 1
                    set state for
                    continue
                case eval set fish_add_path
                    set -g __guard_nomem 1
                    set own 1
                    set state $w
                    set held
                    set helddyn 0
            end
            if set -q scoped[1]; and test $own = 1
                # `PATH=… begin …`, `PATH=… eval …`: checked under it for the rest of the line
                set -a __guard_xp $scoped
                set scoped
            end
            test $own = 1; and continue
            if abbr -q -- $w
                # Enter expands an abbreviation before it runs: check what it expands to.
                set -g __guard_nomem 1
                __guard_scan (__guard_abbr_text $w)
            end
            if builtin -q -- $w
                set -g __guard_nomem 1
                set state args
                continue
            end
            if functions -q -- $w
                # A function named like a program (ls, grep, man…) normally runs that program;
                # what it runs under a scoped PATH is checked under that PATH too.
                set -q scoped[1]; and set -a __guard_xp $scoped
                set scoped
                __guard_addword $w
                set state args
                continue
            end
        end
        # an external command (or the command a wrapper runs)
        if set -q scoped[1]; or set -q __guard_xp[1]
            __guard_addword $w $scoped
        else if string match -q -- '*/*' $w; or command -q -- $w
            contains -- $w $__guard_ws; or set -a __guard_ws $w # (__guard_addword, inlined)
            string match -q -- '*/*' $w; and not string match -q -- '/*' $w; and set -g __guard_nomem 1
        else
            set -g __guard_nomem 1 # found nowhere: a file may be planted under it later
        end
        set -l base $w
        string match -q -- '*/*' $w; and set base (string replace -r '.*/' '' -- $w)
        if contains -- $base $__guard_wrappers
            set state wrap
            set wrap $base
            set wdone 0
            set wskip 0
            set wpos 0
            test $base = timeout; and set wpos 1
        else
            set state args
        end
    end
end

function __guard_addword
    # argv: WORD [PATH]. Record a command word to check: in PATH when given (a command-scoped
    # PATH), else in $PATH when fish finds it there, and in every PATH set earlier on the line.
    set -l w $argv[1]
    if set -q argv[2]
        set -a __guard_sw $w
        set -a __guard_sp $argv[2]
        return
    end
    if string match -q -- '*/*' $w; or command -q -- $w
        contains -- $w $__guard_ws; or set -a __guard_ws $w
        string match -q -- '*/*' $w; and not string match -q -- '/*' $w; and set -g __guard_nomem 1
    else
        set -g __guard_nomem 1 # a function found nowhere on PATH: it may be erased later
    end
    for p in $__guard_xp
        set -a __guard_sw $w
        set -a __guard_sp $p
    end
end

function __guard_uses_setvar --argument-names raw
    # True when RAW expands a variable that is assigned earlier on the same line (`set`, `for`):
    # its value now is not the value it will have.
    for v in $__guard_setvars
        string match -qr -- '^[A-Za-z0-9_]+$' $v; or continue
        string match -qr -- '\$\{?'$v'(?![A-Za-z0-9_])' $raw; and return 0
    end
    return 1
end

function __guard_pathval --argument-names raw
    # The PATH an assignment `PATH=RAW` gives, as one ':'-joined string (fish splits a path
    # variable's elements at ':'); status 1 when RAW holds a command substitution or a
    # variable assigned earlier on the line.
    string match -q -- '*(*' $raw; and return 1
    __guard_uses_setvar $raw; and return 1
    set -l __guard_x
    eval "set -l -- __guard_x $raw" 2>/dev/null # (set keeps $status: no `or` here)
    printf '%s\n' (string join : -- (string split : -- $__guard_x))
end

function __guard_scan_eval --argument-names dyn
    # argv: DYN ARG…: eval runs its expanded arguments joined by spaces: scan that text. A
    # substitution among them cannot be known before it runs.
    set -e argv[1]
    test "$dyn" = 1; and set -a __guard_dyn "eval of a string not known before it runs (a command substitution or a variable set on the line)"
    set -q argv[1]; or return
    __guard_scan (string join ' ' -- $argv | string replace -a \x1f '' | string join \x1e)
end

function __guard_setpath --argument-names cmd dyn
    # argv: set|fish_add_path DYN ARG…: a PATH this command gives is added to the line's PATHs
    # (__guard_xp); every later command word on the line is also checked under each of them.
    # A scope (`set -l` inside begin…end) is not followed: checking under more PATHs is safe.
    set -e argv[1..2]
    set -l how set
    test $cmd = fish_add_path; and set how prepend
    while set -q argv[1]; and string match -q -- '-*' $argv[1]
        set -l o $argv[1]
        set -e argv[1]
        test "$o" = --; and break
        switch $o
            case --erase --query --names --show --long --help --dry-run
                return
            case --append
                set how append
            case --prepend
                set how prepend
            case '--*'
            case '*'
                test $cmd = set; and string match -qr -- '[eqnSLh]' $o; and return
                string match -q -- '*a*' $o; and set how append
                string match -q -- '*p*' $o; and set how prepend
                test $cmd = fish_add_path; and string match -q -- '*n*' $o; and return
        end
    end
    set -l name PATH
    if test $cmd = set
        set -q argv[1]; or return
        set name $argv[1]
        set -e argv[1]
        set -a __guard_setvars (string replace -r -- '\[.*' '' $name)
        # an index (PATH[1]) is taken as a prepend: the new entry is searched before the rest
        string match -qr -- '^(?:PATH|fish_user_paths)\[' $name; and set how prepend
        string match -qr -- '^(?:PATH|fish_user_paths)(?:\[.*)?$' $name; or return
        string match -q -- 'fish_user_paths*' $name; and set how prepend # fish puts them first
    end
    if test "$dyn" = 1
        set -a __guard_dyn "PATH not known before it runs: $cmd "(string escape -- $name)" (a command substitution or a variable set on the line)"
        return
    end
    set -l vals (string split : -- $argv)
    switch $how
        case append
            set vals $PATH $vals
        case prepend
            set vals $vals $PATH
    end
    set -q vals[1]; and set -a __guard_xp (string join : -- $vals)
end

function __guard_abbr_text --argument-names name
    # The expansion of abbreviation $name, read back from `abbr --show` (whose lines are
    # `abbr -a [OPTIONS] -- NAME EXPANSION`); a --function abbreviation yields its output.
    set -l line (abbr --show | string match -e -- " -- "(string escape -- $name)" ")
    set -q line[1]; or return
    set -g __guard_abbr
    eval (string replace -r '^abbr ' '__guard_abbr_capture ' -- $line[1])
    printf '%s\n' $__guard_abbr | string replace -a \n \x1e
end

function __guard_abbr_capture
    argparse -i 'a/add' 'g/global' 'U/universal' 'position=' 'regex=' 'function=' 'set-cursor=?' -- $argv 2>/dev/null
    or return
    if set -q _flag_function
        set -g __guard_abbr ($_flag_function $argv[1] 2>/dev/null)
    else
        set -g __guard_abbr $argv[-1]
    end
end

# --- the verdict cache ----------------------------------------------------------------------
function __guard_sync
    # Cached answers hold for the PATH (and, when PATH has a relative entry, the directory)
    # they were computed for.
    set -l ctx "$PATH"\n"$GUARD_LOCK" # under GUARD_LOCK the lock's pins are the trust source
    string match -qv -- '/*' $PATH; and set ctx "$ctx"\n"$PWD"
    if test "$ctx" != "$__guard_ctx"
        set -l ks (set -n | string match -- '__guard_k_*')
        set -q ks[1]; and set -e $ks
        for v in $__guard_lv # the remembered lines
            functions -e -- $$v
            set -e $v
        end
        set -g __guard_lv
        set -g __guard_ctx $ctx
    end
end

function __guard_fresh --argument-names var
    # True when the cached COUNT STAMP WATCH… in $var still holds: all COUNT paths exist (path
    # mtime skips a missing one) and no watched path is as new as the stamp (path mtime has
    # whole seconds, so an equal second counts as newer). COUNT is stored with the list because
    # `count` would need a command substitution, ~50 µs in fish 3.6; a pipe into read is ~9.
    set -q $var; or return 1
    set -l c $$var
    path mtime -- $c[2..] | read -l -z -a m
    set -q m[$c[1]]; or return 1
    for t in $m[2..]
        test $t -lt $m[1]; or return 1
    end
end

function __guard_key --argument-names w
    # Sets __guard_kv to the name of the cache variable for command word W (a global, not
    # printed: a command substitution costs more than the whole check of a cached word).
    if string match -qr -- '^[A-Za-z0-9]+$' $w
        set -g __guard_kv __guard_k_$w # string escape --style=var keeps such a word as it is
        return
    end
    # a relative path depends on the directory it is typed in
    if string match -q -- '*/*' $w; and not string match -q -- '/*' $w
        set w $PWD/$w
    end
    string escape --style=var -- $w | read -g __guard_kv
    set -g __guard_kv __guard_k_$__guard_kv
end

function __guard_put --argument-names word action stamp msg
    # One answer of `guard _query` (docs/hook-protocol.md).
    # (an answer for a command-scoped PATH, __guard_qpath, is for that one command only)
    if test "$action" = ok; and test -n "$stamp"; and not set -q __guard_qpath
        __guard_key $word
        set -g $__guard_kv (count $stamp $argv[5..]) $stamp $argv[5..] # COUNT STAMP WATCH…
    else
        set -g __guard_nomem 1 # a line is remembered only on cached `ok` answers
    end
    set -a __guard_aw $word
    set -a __guard_aa $action
    set -a __guard_am $msg
end

function __guard_mode --argument-names mode
    # `__guard_mode MODE`, the first line of a `_query --want-mode` reply: the effective mode
    # (config.yaml, GUARD_MODE, the system policy's floor), remembered with the GUARD_MODE it
    # was computed under.
    contains -- "$mode" block warn monitor; or return 0
    set -g __guard_mode_known $mode
    set -g __guard_mode_env "$GUARD_MODE"
end

function __guard_curmode
    # The mode for the hook's own decisions (a substitution in command position, guard being
    # unavailable): the last one guard reported while GUARD_MODE is unchanged (else guard is
    # asked now: these decisions are rare); failing that, GUARD_MODE; else block.
    if not set -q __guard_mode_known[1]; or test "$__guard_mode_env" != "$GUARD_MODE"
        if set -q __guard_bin[1]
            for line in ($__guard_bin _query --shell fish --want-mode 2>/dev/null)
                string match -qr -- '^__guard_mode ' $line; and eval $line
            end
        end
    end
    if set -q __guard_mode_known[1]; and test "$__guard_mode_env" = "$GUARD_MODE"
        echo $__guard_mode_known
        return
    end
    switch "$GUARD_MODE"
        case warn monitor
            echo $GUARD_MODE
        case '*'
            echo block
    end
end

function __guard_call
    # Run guard with argv; with __guard_qpath set, under that PATH (a command-scoped one).
    if set -q __guard_qpath
        set -g __guard_inhook 1 # our own PATH change: the --on-variable handler stays out
        set -lx PATH (string split : -- $__guard_qpath)
        $__guard_bin $argv
        set -l rc $status
        set -e __guard_inhook
        return $rc
    end
    $__guard_bin $argv
end

function __guard_unavailable --argument-names why
    # guard could not answer: interactive shells warn once per prompt and run; others fail
    # closed unless GUARD_MODE says warn or monitor.
    set -g __guard_nomem 1
    if status is-interactive
        if not set -q __guard_failwarned
            set -g __guard_failwarned 1
            __guard_say "guard: cannot check commands ($why); running unchecked"
        end
        return 0
    end
    switch (__guard_curmode)
        case warn
            printf '%s\n' "guard: cannot check commands ($why); running unchecked" >&2
            return 0
        case monitor
            return 0
    end
    printf '%s\n' "guard: cannot check commands ($why); refusing to run (GUARD_MODE=warn to override)" >&2
    return 1
end

function __guard_decide
    # argv: command words. Prints the messages (warnings are queued for fish_preexec when
    # __guard_defer is set). Returns 0 to run, 1 to block. With __guard_qpath set the words
    # are looked up in that PATH instead of $PATH, and nothing is cached.
    set -l miss
    if set -q __guard_qpath
        for w in $argv
            contains -- $w $miss; or set -a miss $w
        end
    else
        __guard_sync
        for w in $argv
            __guard_key $w
            __guard_fresh $__guard_kv; and continue
            contains -- $w $miss; or set -a miss $w
        end
    end
    set -q miss[1]; or return 0
    set -g __guard_aw
    set -g __guard_aa
    set -g __guard_am
    set -l flags --shell fish --want-mode
    status is-interactive; and set -a flags --interactive
    set -l reply
    if set -q __guard_bin[1]
        if set -q __guard_failwarned
            set reply (__guard_call _query $flags -- $miss 2>/dev/null)
        else
            set reply (__guard_call _query $flags -- $miss)
        end
    end
    set -l rc $status
    set -q __guard_bin[1]; or set rc 127
    if test $rc -eq 0
        for line in $reply
            if string match -qr -- '^__guard_(?:put|mode) ' $line
                eval $line
            end
        end
    end
    set -l blocked 0
    for w in $miss
        set -l i (contains -i -- $w $__guard_aw)
        if test $rc -ne 0; or not set -q i[1]
            __guard_unavailable "guard exited with status $rc"; and continue
            set blocked 1
            break
        end
        set -l msg $__guard_am[$i]
        switch $__guard_aa[$i]
            case ok monitor
            case warn
                __guard_say $msg
            case ask
                set -q __guard_defer; and printf '\n' >&2
                printf '%s\n' $msg >&2
                set -l ans
                read -l -P 'trust and run? [y/N] ' ans </dev/tty
                if string match -qi -- 'y*' "$ans"; and __guard_call trust -- $w
                    continue
                end
                set blocked 1
            case '*'
                __guard_say $msg
                set blocked 1
        end
    end
    return $blocked
end

function __guard_say
    # From the Enter binding, messages wait: a block prints them under the line, a warning
    # just before the command runs (fish_preexec). Elsewhere they go straight to stderr.
    set -g __guard_nomem 1
    if set -q __guard_defer
        set -ga __guard_pending $argv
    else
        printf '%s\n' $argv >&2
    end
end

function __guard_check_text --argument-names text
    # Scan a command line and decide every command word in it; 0 = run it.
    # The name list first: at Enter it is made exact, and its reply tells the current mode.
    string match -q -- '*'\x1f'*' $text; and set text (string replace -a \x1f '' -- $text)
    # A line checked whole before (__guard_remember): only the freshness tests of the answers
    # it was allowed on and of the name list, which __guard_names_sync would test first.
    __guard_sync
    string escape --style=var -- $text | read -g __guard_lk
    set -g __guard_lk __guard_L_$__guard_lk
    if set -q $__guard_lk; and set -q __guard_n_exact
        set -l key "$PATH" # (as in __guard_names_sync)
        test -n "$GUARD_LOCK"; and set key "$key"\x1flock=$GUARD_LOCK
        test "$__guard_n_path" = "$key"; and $$__guard_lk; and return 0
    end
    __guard_names_sync exact; or return 1
    set -g __guard_nomem
    set -g __guard_ws
    set -g __guard_dyn
    set -g __guard_sw # words looked up in another PATH …
    set -g __guard_sp # … and that PATH
    set -g __guard_xp # PATHs set on the line (`set PATH`, `set -lx PATH` in begin…end)
    set -g __guard_setvars # variables assigned on the line
    __guard_scan $text
    if set -q __guard_dyn[1]
        set -l m (__guard_curmode)
        set -l msg "guard: "(test $m = block; and echo blocked; or echo 'warning: would block')" $__guard_dyn[1]"
        switch $m
            case block
                __guard_say $msg
                return 1
            case warn
                __guard_say $msg
        end
    end
    __guard_decide $__guard_ws; or return 1
    # then each other PATH, one query per PATH, uncached
    set -l done
    for p in $__guard_sp
        contains -- $p $done; and continue
        set -a done $p
        set -l ws
        set -l i 0
        for q in $__guard_sp
            set i (math $i + 1)
            test "$q" = "$p"; and set -a ws $__guard_sw[$i]
        end
        set -g __guard_qpath $p
        __guard_decide $ws
        set -l rc $status
        set -e __guard_qpath
        test $rc = 0; or return 1
    end
    set -q __guard_nomem[1]; or set -q __guard_sp[1]; or set -q __guard_xp[1]; or __guard_remember
    return 0
end

function __guard_remember
    # The line in __guard_lk was allowed whole, every command word in $PATH by a cached `ok`
    # answer (the scan, __guard_put, __guard_say and __guard_unavailable set __guard_nomem for
    # anything else: builtins, words found nowhere, relative paths, expansions or abbreviations
    # in command position, eval/set/for, other answers, messages). Define a function that is
    # true while all those answers' freshness tests and the name list's (__guard_n_sw) hold
    # (each WATCH older than its STAMP: one `path mtime` and one `test` for all) and no word
    # became an abbreviation, and name it in __guard_lk. PATH, GUARD_LOCK or (with a relative
    # PATH entry) PWD changing clears them all (__guard_sync); at most 500 are kept.
    # (A function named like a PATH program is checked as that program, also by the full scan,
    # so erasing or defining one later does not change the outcome; builtins cannot change.)
    set -q __guard_ws[1]; and set -q __guard_n_exact; and set -q __guard_n_sw[1]; or return
    set -l groups
    for w in $__guard_ws
        __guard_key $w
        set -q $__guard_kv; or return
        set -a groups $__guard_kv
    end
    set -l paths
    set -l expr
    for g in $groups __guard_n_sw
        set -l c $$g
        set -l si (contains -i -- $c[2] $paths; or begin; set -a paths $c[2]; count $paths; end)
        for p in $c[3..]
            set -l wi (contains -i -- $p $paths; or begin; set -a paths $p; count $paths; end)
            contains -- "\$m[$wi] -lt \$m[$si]" $expr; or set -a expr -a "\$m[$wi] -lt \$m[$si]"
        end
    end
    set -q expr[1]; or return
    set -l f
    if set -q $__guard_lk
        set f $$__guard_lk # re-remembered: the old test failed
    else
        if set -q __guard_lv[500]
            set -l o $__guard_lv[1]
            functions -e -- $$o
            set -e $o
            set -e __guard_lv[1]
        end
        set -g __guard_ln (math $__guard_ln + 1)
        set f __guard_lf_$__guard_ln
        set -ga __guard_lv $__guard_lk
    end
    eval "function $f; path mtime -- "(string join ' ' -- (string escape -- $paths))" | read -l -z -a m
        set -q m[$(count $paths)]; and not abbr -q -- "(string join ' ' -- (string escape -- $__guard_ws))"
        and test $expr[2..]; end"
    set -g $__guard_lk $f
end

# --- interactive: the Enter key -------------------------------------------------------------
function __guard_enter --description 'guard: check the command line, then execute it'
    # Pager open, incomplete or invalid line: Enter does what it always does.
    if commandline --paging-mode; or not commandline --is-valid
        commandline -f execute
        return
    end
    set -g __guard_pending
    set -g __guard_defer 1
    set -l text (string join \x1e -- (commandline))
    if __guard_check_text "$text"
        set -e __guard_defer
        commandline -f execute
        return
    end
    set -e __guard_defer
    # Blocked. A key binding cannot set $status, and running a stand-in command to get 126
    # would lose the typed line, so the line stays in the buffer for editing instead.
    printf '\n' >&2
    printf '%s\n' $__guard_pending >&2
    set -g __guard_pending
    commandline -f repaint
end

function __guard_prompt --on-event fish_prompt
    set -e __guard_failwarned
end

function __guard_preexec --on-event fish_preexec
    set -g __guard_running 1 # a typed line runs: a PATH change now adds by-name functions
    if set -q __guard_pending[1]
        printf '%s\n' $__guard_pending >&2
        set -g __guard_pending
    end
end

function __guard_postexec --on-event fish_postexec
    set -e __guard_running
end

function __guard_bind --description 'guard: bind Enter in every mode that executes with it'
    set -l keys \r \n \e\[27\;5\;13~ \e\[13\;5u \e\[27\;2\;13~ \e\[13\;2u
    set -l vi 0
    test "$fish_key_bindings" = fish_vi_key_bindings; and set vi 1
    for k in $keys
        bind -M insert $k __guard_enter
        bind -M visual $k __guard_enter
        if test $vi = 1
            bind -M default -m insert $k __guard_enter
        else
            bind -M default $k __guard_enter
        end
    end
end

function __guard_rebind --on-variable fish_key_bindings
    __guard_bind
end

# --- everywhere: functions for names whose PATH winner is not trusted ------------------------
function __guard_cachedir
    if string match -q -- '/*' "$XDG_CACHE_HOME"
        echo $XDG_CACHE_HOME/guard
    else
        echo $HOME/.cache/guard
    end
end

function __guard_names_file --argument-names key
    set -l e (string escape --style=var -- "$key")
    if test (string length -- "$e") -gt 150
        set e (string sub -l 60 -- $e)_(string length -- $e)_(string sub -s -60 -- $e)
    end
    echo (__guard_cachedir)/fish-names2-$e # 2: __guard_f_sw holds COUNT STAMP WATCH…
end

function __guard_shadow --argument-names name
    set -a __guard_f_names $name
end

function __guard_shadows
    set -q argv[1]; or return
    set -g __guard_f_sw (count $argv) $argv # COUNT STAMP WATCH…, as __guard_fresh reads it
end

function __guard_names_sync --argument-names how
    # Make sure every name on the current PATH's list has its by-name function; 0 when done,
    # 1 to refuse (fail closed). Only how=exact (Enter, at the prompt) drops functions for
    # names no longer listed. Everywhere else names are only added, because
    #  - fish sends no event when a command-scoped PATH ends (`PATH=… cmd`, `set -lx PATH` in
    #    begin…end): the functions for the PATH in force afterwards must still be there;
    #  - erasing a function while a pipeline that calls it starts (`qa | PATH=… true`) makes
    #    fish 3.6 abort (io.cpp:190 "io_buffer_t destroyed with outstanding fillthread").
    # A function for a name the current PATH allows costs one cached check.
    set -l key "$PATH" # what the list depends on besides files: PATH and GUARD_LOCK's file
    test -n "$GUARD_LOCK"; and set key "$key"\x1flock=$GUARD_LOCK
    if test "$__guard_n_path" = "$key"; and __guard_fresh __guard_n_sw
        test "$how" = exact; or return 0
        set -q __guard_n_exact; and return 0
    end
    set -l file (__guard_names_file $key)
    set -g __guard_f_path
    set -g __guard_f_sw
    set -g __guard_f_names
    set -g __guard_f_mode
    set -g __guard_f_menv
    test -r $file; and source $file 2>/dev/null
    if test "$__guard_f_path" = "$key"; and __guard_fresh __guard_f_sw
        test "$__guard_f_menv" = "$GUARD_MODE"; and __guard_mode $__guard_f_mode
    else
        set -g __guard_f_sw
        set -g __guard_f_names
        set -l reply
        if set -q __guard_bin[1]
            set reply ($__guard_bin _query --shell fish --shadows --want-mode 2>/dev/null)
        end
        set -l rc $status
        set -q __guard_bin[1]; or set rc 127
        if test $rc -ne 0
            __guard_unavailable "guard exited with status $rc"
            return
        end
        for line in $reply
            string match -qr -- '^__guard_(?:shadows?|mode) ' $line; and eval $line
        end
        if set -q __guard_f_sw[1]
            # names first, the key last: a torn write never passes for a valid file
            printf '%s\n' \
                "set -g __guard_f_names "(string join ' ' -- (string escape -- $__guard_f_names)) \
                "set -g __guard_f_sw "(string join ' ' -- (string escape -- $__guard_f_sw)) \
                "set -g __guard_f_mode "(string escape -- "$__guard_mode_known") \
                "set -g __guard_f_menv "(string escape -- "$GUARD_MODE") \
                "set -g __guard_f_path "(string escape -- "$key") >$file 2>/dev/null
        end
    end
    if test "$how" = exact
        __guard_names_apply 1 $__guard_f_names
        set -g __guard_n_exact 1
    else
        __guard_names_apply 0 $__guard_f_names
        set -e __guard_n_exact
    end
    set -g __guard_n_path "$key"
    set -g __guard_n_sw $__guard_f_sw
    return 0
end

function __guard_names_apply --argument-names erase
    # argv: ERASE NAME…: add a function for each name; with ERASE=1 also drop the functions
    # for names not listed. A function the user (or fish) already had under that name is
    # kept and called after the check.
    set -e argv[1]
    for n in $__guard_n_defined
        test "$erase" = 1; or break
        contains -- $n $argv; and continue
        functions -e -- $n
        set -l o __guard_orig_(string escape --style=var -- $n)
        if functions -q -- $o
            functions -c -- $o $n
            functions -e -- $o
        end
        set -l i (contains -i -- $n $__guard_n_defined)
        set -e __guard_n_defined[$i]
    end
    for n in $argv
        contains -- $n $__guard_n_defined; and continue
        string match -qr -- '^[A-Za-z0-9_.+,:@=][A-Za-z0-9_.+,:@=~-]*$' $n; or continue
        builtin -q -- $n; and continue # fish runs its builtin, never the file
        set -l o __guard_orig_(string escape --style=var -- $n)
        functions -q -- $n; and functions -c -- $n $o
        eval "function $n --description 'guard: checks the file on PATH before running it'; __guard_byname $n \$argv; end"
        set -ga __guard_n_defined $n
    end
end

function __guard_byname
    # argv: NAME ARGS… — run NAME if the file it resolves to is allowed.
    set -l n $argv[1]
    set -e argv[1]
    if __guard_decide $n
        set -l o __guard_orig_$n
        string match -qr -- '^[A-Za-z0-9]+$' $n; or set o __guard_orig_(string escape --style=var -- $n)
        if functions -q -- $o
            $o $argv
        else
            command $n $argv
        end
        return $status
    end
    status is-interactive; or __guard_die
    return 126
end

function __guard_die
    # Non-interactive fail-closed. `exit` does not end fish while config files load and is
    # inverted under `not`, so replace the process with one that exits 126.
    set -l fish (status fish-path)
    exec $fish --no-config -c 'exit 126'
end

function __guard_path_changed --on-variable PATH
    # Scripts and `fish -c` have no Enter key, and a typed line may change PATH before it
    # runs a function or sourced file: add the by-name functions for the new PATH before the
    # next command is looked up. At the prompt itself (startup files, prompt hooks) Enter does.
    set -q __guard_inhook; and return
    if status is-interactive
        set -q __guard_running; and __guard_names_sync add
        return 0
    end
    __guard_names_sync add; or __guard_die
end

if status is-interactive
    __guard_bind
else
    __guard_names_sync add; or __guard_die
end
