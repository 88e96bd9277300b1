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

function __guard_scan --argument-names text
    # Appends to __guard_ws every word that will be looked up as an external command, and to
    # __guard_dyn every command word that is itself a command substitution.
    set -l toks (string match -ar -- $__guard_re_tok $text)
    set -l state cmd # cmd: a command word comes next; args: arguments; wrap: inside a wrapper
    set -l wrap # the wrapper whose options are being skipped
    set -l wdone 0 # the wrapper saw `--`
    set -l wpos 0 # positional words the wrapper still owns (timeout's DURATION)
    set -l wskip 0 # the next word is an option's value
    set -l target 0 # the next word is a redirection target
    while set -q toks[1]
        set -l t $toks[1]
        set -e toks[1]
        switch $t
            case \x1e ';' '&' '|' '&&' '||' '&|'
                set state cmd
                set target 0
                continue
            case '\\'\x1e '#*'
                continue
            case '*>|'
                if string match -qr '^[0-9]*>\|$' -- $t
                    set state cmd
                    set target 0
                    continue
                end
            case '*>*' '*<*'
                if string match -qr '^(?:[0-9]+|&)?(?:>>|>|<)\??(?:&(?:[0-9]+|-))?$' -- $t
                    string match -qr '&(?:[0-9]+|-)$' -- $t; or set target 1
                    continue
                end
        end
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
        test $state = args; and continue
        if test $nsub -gt 0
            set -a __guard_dyn $t
            set state args
            continue
        end
        set -l words $t
        if test $lit = 0; and string match -qr -- '[$*?{}~%\'"\\\\]' $t
            # Expand exactly as fish will: no ( ) here, so this runs nothing.
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
                continue
            end
            if test $wpos -gt 0
                set wpos (math $wpos - 1)
                continue
            end
        else
            # state cmd: fish's own words first
            if string match -qr '^[A-Za-z_][A-Za-z0-9_]*=' -- $w
                continue # VAR=value prefix
            end
            switch $w
                case and or not '!' begin if while else time
                    continue
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
            end
            if abbr -q -- $w
                # Enter expands an abbreviation before it runs: check what it expands to.
                __guard_scan (__guard_abbr_text $w)
            end
            if builtin -q -- $w
                set state args
                continue
            end
            if functions -q -- $w
                # A function named like a program (ls, grep, man…) normally runs that program.
                command -q -- $w; and set -a __guard_ws $w
                set state args
                continue
            end
        end
        # an external command (or the command a wrapper runs)
        if string match -q -- '*/*' $w; or command -q -- $w
            contains -- $w $__guard_ws; or set -a __guard_ws $w
        end
        set -l base (string replace -r '.*/' '' -- $w)
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
    set -l ctx "$PATH"
    string match -qv -- '/*' $PATH; and set ctx "$ctx"\n"$PWD"
    if test "$ctx" != "$__guard_ctx"
        set -l ks (set -n | string match -- '__guard_k_*')
        set -q ks[1]; and set -e $ks
        set -g __guard_ctx $ctx
    end
end

function __guard_fresh --argument-names var
    # True when the cached STAMP WATCH… in $var still holds: the stamp exists and no watched
    # path is as new as it (path mtime has whole seconds, so an equal second counts as newer).
    set -q $var; or return 1
    set -l c $$var
    set -l m (path mtime -- $c)
    test (count $m) -eq (count $c); or return 1
    for t in $m[2..]
        test $t -lt $m[1]; or return 1
    end
end

function __guard_key --argument-names w
    # a relative path depends on the directory it is typed in
    if string match -q -- '*/*' $w; and not string match -q -- '/*' $w
        set w $PWD/$w
    end
    echo __guard_k_(string escape --style=var -- $w)
end

function __guard_put --argument-names word action stamp msg
    # One answer of `guard _query` (docs/hook-protocol.md).
    if test "$action" = ok; and test -n "$stamp"
        set -g (__guard_key $word) $stamp $argv[5..]
    end
    set -a __guard_aw $word
    set -a __guard_aa $action
    set -a __guard_am $msg
end

function __guard_mode
    # GUARD_MODE from the environment (the config file's mode reaches us through answers)
    switch "$GUARD_MODE"
        case warn monitor
            echo $GUARD_MODE
        case '*'
            echo block
    end
end

function __guard_unavailable --argument-names why
    # guard could not answer: interactive shells warn once per prompt and run; others fail
    # closed unless GUARD_MODE says warn or monitor.
    if status is-interactive
        if not set -q __guard_failwarned
            set -g __guard_failwarned 1
            __guard_say "guard: cannot check commands ($why); running unchecked"
        end
        return 0
    end
    switch (__guard_mode)
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
    # __guard_defer is set). Returns 0 to run, 1 to block.
    __guard_sync
    set -l miss
    for w in $argv
        __guard_fresh (__guard_key $w); and continue
        contains -- $w $miss; or set -a miss $w
    end
    set -q miss[1]; or return 0
    set -g __guard_aw
    set -g __guard_aa
    set -g __guard_am
    set -l flags --shell fish
    status is-interactive; and set -a flags --interactive
    set -l reply
    if set -q __guard_bin[1]
        if set -q __guard_failwarned
            set reply ($__guard_bin _query $flags -- $miss 2>/dev/null)
        else
            set reply ($__guard_bin _query $flags -- $miss)
        end
    end
    set -l rc $status
    set -q __guard_bin[1]; or set rc 127
    if test $rc -eq 0
        for line in $reply
            if string match -q -- '__guard_put *' $line
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
                if string match -qi -- 'y*' "$ans"; and $__guard_bin trust -- $w
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
    if set -q __guard_defer
        set -ga __guard_pending $argv
    else
        printf '%s\n' $argv >&2
    end
end

function __guard_check_text --argument-names text
    # Scan a command line and decide every command word in it; 0 = run it.
    set -g __guard_ws
    set -g __guard_dyn
    __guard_scan (string replace -a \x1f '' -- $text)
    set -l ok 0
    if set -q __guard_dyn[1]
        set -l m (__guard_mode)
        set -l msg "guard: "(test $m = block; and echo blocked; or echo 'warning: would block')" command substitution in command position: "(string escape -- $__guard_dyn[1])
        switch $m
            case block
                __guard_say $msg
                set ok 1
            case warn
                __guard_say $msg
        end
    end
    test $ok = 0; or return 1
    __guard_names_sync; or return 1
    __guard_decide $__guard_ws
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
    if set -q __guard_pending[1]
        printf '%s\n' $__guard_pending >&2
        set -g __guard_pending
    end
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

function __guard_names_file
    set -l e (string escape --style=var -- "$PATH")
    if test (string length -- "$e") -gt 150
        set e (string sub -l 60 -- $e)_(string length -- $e)_(string sub -s -60 -- $e)
    end
    echo (__guard_cachedir)/fish-names-$e
end

function __guard_shadow --argument-names name
    set -a __guard_f_names $name
end

function __guard_shadows
    set -g __guard_f_sw $argv
end

function __guard_names_sync
    # Make the by-name functions match the current PATH; 0 when done, 1 to refuse (fail closed).
    if test "$__guard_n_path" = "$PATH"; and __guard_fresh __guard_n_sw
        return 0
    end
    set -l file (__guard_names_file)
    set -g __guard_f_path
    set -g __guard_f_sw
    set -g __guard_f_names
    test -r $file; and source $file 2>/dev/null
    if test "$__guard_f_path" != "$PATH"; or not __guard_fresh __guard_f_sw
        set -g __guard_f_sw
        set -g __guard_f_names
        set -l reply
        if set -q __guard_bin[1]
            set reply ($__guard_bin _query --shell fish --shadows 2>/dev/null)
        end
        set -l rc $status
        set -q __guard_bin[1]; or set rc 127
        if test $rc -ne 0
            __guard_unavailable "guard exited with status $rc"
            return
        end
        for line in $reply
            string match -qr -- '^__guard_shadows? ' $line; and eval $line
        end
        if set -q __guard_f_sw[1]
            # names first, PATH last: a torn write never passes for a valid file
            printf '%s\n' \
                "set -g __guard_f_names "(string join ' ' -- (string escape -- $__guard_f_names)) \
                "set -g __guard_f_sw "(string join ' ' -- (string escape -- $__guard_f_sw)) \
                "set -g __guard_f_path "(string escape -- "$PATH") >$file 2>/dev/null
        end
    end
    __guard_names_apply $__guard_f_names
    set -g __guard_n_path "$PATH"
    set -g __guard_n_sw $__guard_f_sw
    return 0
end

function __guard_names_apply
    # argv: the names to protect. Drop functions for names no longer listed, add new ones; a
    # function the user (or fish) already had under that name is kept and called after the check.
    for n in $__guard_n_defined
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
        set -l o __guard_orig_(string escape --style=var -- $n)
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
    # scripts and `fish -c` have no Enter key: keep the by-name functions current
    status is-interactive; and return
    __guard_names_sync; or __guard_die
end

if status is-interactive
    __guard_bind
else
    __guard_names_sync; or __guard_die
end
