# shellcheck shell=bash disable=SC2016
# guard.bash: stop an untrusted command before bash runs it.
#
# Load with `eval "$(guard hook bash)"` or `source "$(guard hook --path bash)"`; both prepend
# `__guard_bin=(/abs/python -I -m guard)`, the only way this file ever runs guard (never via
# PATH, which is exactly what an attacker controls). Protocol: docs/hook-protocol.md.
# How it works and what it covers: docs/shell-bash.md.
#
# Interception is a DEBUG trap (`__guard_trap "$@" "$_"`), with `set -o functrace` so that it
# is inherited by functions, $( ), ( ), <( ) and sourced files. The trap fires once per simple
# command, with the unexpanded text of that one command in BASH_COMMAND (pipeline parts and
# && / || members each get their own call, in the parent shell, before it forks). With
# `extdebug`, a non-zero return from the trap skips the command; without it (and in any
# non-interactive shell) a block is `exit 126`, because a skipped command reports success.
#
# The hot path forks nothing: __guard_trap passes the commonest builtins with one `case`, else
# looks the command's first word up in __guard_fast, whose value answers "still fine?": `:`
# for builtins and keywords, or a generated one-line function per cached `ok` verdict that
# holds while PATH, the hash-table entry and every WATCH path (`[[ w -nt stamp ]]`) are
# unchanged. __guard_full then passes functions, plain assignments and command texts already
# checked whole (__guard_txt). Anything else forks one child that finds and checks every
# command word (shell/guard-lib.bash, held here as the string $__guard_lib) and prints the
# cache entries for this shell to keep; Python runs only there, once per simple command for
# all of its uncached words.
#
# This file stays small on purpose: every function defined here grows the shell's heap, and
# after each fork every heap page the shell writes costs a copy-on-write fault. See
# docs/shell-bash.md ("Why a child").

# shellcheck disable=SC2034,SC2154  # globals: read by the trap; __guard_bin comes from guard
[[ -n ${BASH_VERSION-} ]] || return 0
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 4))); then
    \builtin printf 'guard: bash %s is too old for the hook (need 4.4+)\n' "$BASH_VERSION" >&2
    \builtin return 0
fi

# ---- state (declare -g: this file may be sourced from inside a function) -------------------
# Double-loading keeps the caches; the trap install below refuses to chain itself.
\builtin declare -gA __guard_fast # also when a version without it was loaded before
if [[ -z ${__guard_loaded-} ]]; then
    \builtin declare -gA __guard_kind __guard_okf __guard_okh __guard_okp __guard_vf __guard_txt
    \builtin declare -ga __guard_chain
    __guard_kind=() # word -> b (builtin/keyword: pass) | w (wrapper: look through)
    __guard_okf=()  # cache key -> "__guard_tN[@]": the `test` arguments revalidating an ok
    __guard_okh=()  # cache key -> the hash-table entry that answer holds for
    __guard_okp=()  # cache key -> 1 when the answer came from a PATH search
    __guard_fast=() # _word -> `:` (builtin/keyword) or __guard_vN (cached ok, see __guard_fastfn)
    __guard_vf=()   # cache key -> __guard_vN, also for wrappers (which __guard_fast leaves out)
    __guard_txt=()  # _command text -> `__guard_vA && __guard_vB`: the checks it was allowed on
    __guard_chain=() # foreign DEBUG traps that we call, oldest first
    __guard_path=${PATH-} __guard_n=0
fi
__guard_loaded=1 __guard_busy='' __guard_state=$'\x01u' __guard_rc=0 __guard_1='' __guard_abort='' __guard_tick='' __guard_found=''
__guard_failwarned='' __guard_armed='' __guard_demoted='' __guard_unchecked='' __guard_kp=''
__guard_gmode=${__guard_gmode-} __guard_gmode_env=${__guard_gmode_env-}
\builtin declare -gA __guard_act __guard_msg
__guard_act=() __guard_msg=()
# The rest of the hook, as one string for the child (__guard_child): read from the file guard
# named above (`read`: no fork, and one allocation instead of a parsed literal), or from the
# one next to this file in a checkout.
if [[ -n ${__guard_libfile-} ]]; then
    IFS= \builtin read -r -d '' __guard_lib <"$__guard_libfile" || :
elif [[ -z ${__guard_libfile+x} && -r ${BASH_SOURCE[0]%/*}/guard-lib.bash ]]; then
    IFS= \builtin read -r -d '' __guard_lib <"${BASH_SOURCE[0]%/*}/guard-lib.bash" || :
fi
[[ -n ${__guard_lib-} ]] ||
    \builtin printf 'guard: %s is missing: commands the hook has not seen cannot be checked\n' \
        "${__guard_libfile:-guard-lib.bash}" >&2
# shellcheck disable=SC2016  # the trap string is evaluated when the trap fires
__guard_trapstr='__guard_trap "$@" "$_"'

# Builtins and keywords that pass at once (keywords appear in BASH_COMMAND for [[ ]], (( )),
# for, case and select heads). More are learned with `type -t`.
for __guard_x in '[[' '((' for case select if while until '[' ':' true false echo printf local \
    test return shift set read cd export declare let unset break continue pwd wait shopt \
    eval source . typeset readonly; do
    __guard_kind[_$__guard_x]=b __guard_fast[_$__guard_x]=:
done
# Wrappers whose operand is itself a command word (their own file is checked as well).
for __guard_x in command exec builtin env nohup nice time sudo doas xargs timeout stdbuf; do
    __guard_kind[_$__guard_x]=w
done
# `trap CMD SIG`: its command string is checked when it is set (see __guard_trapcmd), so it
# never takes the hot path (an older version of this file may have entered it there).
__guard_kind[_trap]=t
\builtin unset -v '__guard_fast[_trap]'
\builtin unset -v __guard_x

# ---- the DEBUG trap ------------------------------------------------------------------------
# The trap string is `__guard_trap "$@" "$_"`: a function name first, because some tools
# (starship) run the first word of the trap they replace. The arguments are the caller's
# positional parameters (so "$@" and $1 can be resolved in command position), then the
# caller's $_. Bash restores $? after a DEBUG trap but not $_: it becomes the last argument of
# the trap's last command, here the caller's own $_.
__guard_trap() {
    # Hot path, no other function call for builtins: the commonest builtins when nothing is
    # pending; otherwise the first word's entry in __guard_fast (`:` for other builtins and
    # keywords, or __guard_vN, a one-line check that a cached ok still holds). One `case` on
    # the raw text is the cheapest test bash has, but every pattern is copied with the body on
    # each call, so only the commonest are listed. __guard_state is empty, or starts with \x01
    # (see __guard_restate), so that nothing but the first pattern can match.
    case $__guard_state$BASH_COMMAND in
    $'\x01'* | *[\`\(]*) ;; # pending state, or a substitution: its first command is checked here
    : | ': '* | echo | 'echo '* | 'printf '* | 'local '* | '[['* | '[ '* | 'test '* | true | \
        false | return | 'return '* | 'set '* | 'read '* | 'cd '* | 'export '* | 'declare '*)
        return 0
        ;;
    *) "${__guard_fast[_${BASH_COMMAND%% *}]-false}" && return 0 ;;
    esac
    __guard_full "$@"
}

# Everything the hot path did not answer. Under `set -x` or `set -v` the check runs with both
# off, so that the trace shows the user's commands rather than the hook's.
__guard_full() {
    case $- in
    *[xv]*) __guard_quiet "$@" ;;
    *) __guard_check "$@" ;;
    esac
}

# `set` is not traced when it turns tracing back on, and is the last command when the check
# passes, so this adds no line to the trace.
__guard_quiet() {
    { __guard_xv=${-//[!xv]/} && \builtin set +xv; } 2>/dev/null
    if __guard_check "$@"; then
        \builtin set "-$__guard_xv"
    else
        \builtin set "-$__guard_xv"
        return 1
    fi
}

# Check a command the hot path did not answer. Same arguments as __guard_trap, or none when
# a foreign trap runs the first word of ours (starship).
__guard_check() {
    (($#)) || \builtin set -- ''
    # Re-entry: a foreign trap we chain (bash-preexec, starship) calls us back, or a command
    # substitution inside our own query. Never inside programmable completion.
    [[ -z $__guard_busy && -z ${COMP_LINE-} ]] || return 0
    if [[ -n $__guard_state ]]; then
        if [[ -n $__guard_abort ]]; then
            __guard_abort_check || return 1
        fi
        [[ -n $__guard_armed ]] || __guard_arm
    fi
    # Called through someone else's DEBUG trap instead of as the trap itself: check this
    # command with what we have, then take the trap back (chaining theirs).
    local __guard_c=${FUNCNAME[3]-} # who ran the trap: check, full, trap, caller
    [[ ${FUNCNAME[1]-} != __guard_quiet ]] || __guard_c=${FUNCNAME[4]-}
    case $__guard_c in
    __bp_original_debug_trap | starship_preexec_all | __bp_preexec_invoke_exec) __guard_demoted=1 ;;
    __guard_prompt)
        __guard_tick=1 # the trap is ours and it works
        return 0
        ;;
    __guard_*) return 0 ;;
    esac
    [[ $BASH_COMMAND != __guard_prompt ]] || __guard_tick=1
    [[ $PATH == "$__guard_path" ]] || __guard_reset
    __guard_rc=0
    __guard_1=${BASH_COMMAND%% *}
    __guard_t=${BASH_COMMAND//'$(('/\#} # an arithmetic expansion runs no command
    if [[ $__guard_t == *@([\$\<\>]\(|\`)* ]]; then
        # A substitution: its first command is checked here, before the subshell starts.
        # shellcheck disable=SC2015  # a text no longer allowed also goes to the child
        [[ -n ${__guard_txt[_$BASH_COMMAND]-} ]] && \builtin eval "${__guard_txt[_$BASH_COMMAND]}" ||
            __guard_subst1 || __guard_child "$@"
    elif [[ $__guard_t == [A-Za-z_]*([A-Za-z0-9_])?(+)=@(*([!\"\'[:space:]\\])|\"*([!\"\\])\"|\'*([!\'])\') ]]; then
        : # one assignment is the whole command (bare, "…" or '…' value): nothing runs
    elif [[ ${__guard_kind[_$__guard_1]-} == b ]]; then
        : # a builtin or keyword
    elif [[ $__guard_1 == +([A-Za-z0-9_./+-]) ]] && "${__guard_fast[_$__guard_1]-false}"; then
        : # `cmd … $((…))` or `cmd '(…)'`: no substitution, and cmd's cached answer holds
    elif [[ -n ${__guard_txt[_$BASH_COMMAND]-} ]] && \builtin eval "${__guard_txt[_$BASH_COMMAND]}"; then
        : # this very text was checked before, and what it was allowed on still holds
    elif [[ $__guard_1 != *[\$\`\\\'\"=\<\>\{~*?[]* ]] && \builtin declare -F -- "$__guard_1" >/dev/null 2>&1; then
        : # a function (its own commands are checked as they run)
    elif [[ $__guard_1 == ?(\")\$* ]] && __guard_dynword; then
        : # `$X args`: X names a builtin or a command whose cached answer holds
    else
        __guard_child "$@"
    fi
    if ((__guard_rc == 0)) && ((${#__guard_chain[@]})); then
        __guard_call_chain "${!#}" || __guard_rc=$?
    fi
    if [[ -n $__guard_demoted ]]; then
        __guard_busy=1
        __guard_install "$(\builtin trap -p DEBUG)"
        __guard_busy=''
    fi
    return "$__guard_rc"
}

# The first word is `$NAME`, `${NAME}`, `"$NAME"` or `"${NAME}"` and its value (one word, no
# glob) has an entry in __guard_fast that holds; anything less plain goes to the child.
__guard_dynword() {
    local v=${__guard_1#\"} q=
    [[ $v == "$__guard_1" ]] || {
        [[ $v == *\" ]] || return 1
        v=${v%\"} q=1
    }
    v=${v#\$}
    [[ $v != \{*\} ]] || v=${v:1:${#v}-2}
    [[ $v == [A-Za-z_]*([A-Za-z0-9_]) ]] || return 1
    v=${!v-}
    [[ $v != *[*?[]* ]] || return 1
    if [[ -z $q ]]; then # split as bash will, with the user's IFS (no glob characters left)
        # shellcheck disable=SC2206
        local -a w=($v)
        v=${w[0]-}
    fi
    [[ -n $v ]] && "${__guard_fast[_$v]-false}"
}

# The commonest shape, `x=$(WORD …)`, `cmd … "$(WORD …)" …`, answered without a child: one
# `$( )`, no other parentheses, backticks or backslashes anywhere (so nothing needs parsing to
# know where words and the substitution end), WORD and the command's first word plain and
# holding in __guard_fast; an assignment must be the whole command.
__guard_subst1() {
    local x=$BASH_COMMAND p s w
    [[ $x != *'$('*'$('* && $x != *[\`\\]* ]] || return 1
    p=${x%%'$('*} s=${x#*'$('}
    w=${s%%[[:space:]\)]*}
    s=${s#*\)}
    [[ $p != *[\(\)]* && $s != *[\(\)]* && $w == +([A-Za-z0-9_./+-]) ]] || return 1
    "${__guard_fast[_$w]-false}" || return 1
    if [[ $p == [A-Za-z_]*([A-Za-z0-9_])=?(\") ]]; then
        [[ -z $s || $s == \" ]]
    else
        w=${x%%[[:space:]]*}
        [[ $w == +([A-Za-z0-9_./+-]) || $w == @(\[\[|\[) ]] && "${__guard_fast[_$w]-false}"
    fi
}

# Check this command in a forked child that runs the rest of the hook (shell/guard-lib.bash)
# and prints what this shell must keep, as code, ending with `__guard_rc=N`; a child that
# printed no verdict failed: interactive shells run the command with a warning, others exit.
__guard_child() {
    local __guard_r __guard_cmd=$BASH_COMMAND __guard_hist=${HISTCMD-0}
    __guard_busy=1
    __guard_r=$(
        \builtin trap - DEBUG ERR RETURN
        \builtin set +ETeuvx
        \builtin shopt -u expand_aliases nocasematch nocaseglob failglob nullglob
        # __guard_bl, " name … " of bash's builtins and keywords: asked once per shell, by its
        # first child while that is still small (a fork costs more after the eval below;
        # `type -t` per new word would fork every time). A builtin disabled or loaded later
        # with `enable` is not seen.
        if [[ -z ${__guard_bl-} ]]; then
            __guard_bl=$(\builtin compgen -b -k 2>/dev/null) && __guard_bl=" ${__guard_bl//$'\n'/ } " __guard_blnew=1
        fi
        \builtin eval -- "${__guard_lib-}" && __guard_main "${@:1:$# - 1}"
    )
    __guard_busy='' __guard_rc=''
    \builtin eval -- "$__guard_r"
    if [[ -z $__guard_rc ]]; then
        __guard_rc=0
        \builtin printf 'guard: the hook could not check %s\n' "${__guard_cmd//[[:cntrl:]]/?}" >&2
        [[ $- == *i* ]] || \builtin exit 126
    fi
}

# __guard_state is empty unless the trap has more to do than check the command: an aborted
# command line, extdebug not yet armed, or foreign traps to call.
__guard_restate() {
    __guard_state=''
    [[ -z $__guard_abort ]] || __guard_state+=$'\x01a'
    [[ -n $__guard_armed ]] || __guard_state+=$'\x01u'
    ((${#__guard_chain[@]} == 0)) || __guard_state+=$'\x01c'
}

# PATH changed: every cached answer is void (PATH is part of each verdict).
__guard_reset() {
    local n
    for n in "${__guard_okf[@]}"; do
        n=${n%\[*}
        \builtin unset -v "$n"
        \builtin unset -f "__guard_v${n#__guard_t}"
    done
    for n in "${!__guard_fast[@]}"; do
        [[ ${__guard_fast[$n]} == : ]] || \builtin unset -v '__guard_fast[$n]'
    done
    __guard_okf=() __guard_okh=() __guard_okp=() __guard_vf=() __guard_txt=()
    __guard_path=${PATH-}
}

# Rest-of-line abort in force: skip unless this is the prompt (PROMPT_COMMAND) or a new line.
__guard_abort_check() {
    if [[ $__guard_abort != "${HISTCMD-0}" ]] ||
        [[ "${PROMPT_COMMAND[*]}" == *"$BASH_COMMAND"* ]]; then
        __guard_abort=''
        __guard_restate
        return 0
    fi
    return 1
}

# Arm extdebug (a non-zero trap return then skips the command). Not during startup files of a
# non-interactive shell: extdebug still on when they finish makes bash try to start bashdb
# and then turn it off again with a warning.
__guard_arm() {
    if [[ $- != *i* ]]; then
        local top=${BASH_SOURCE[${#BASH_SOURCE[@]} - 1]-}
        case $top in
        "${BASH_ENV-}" | /etc/profile | ~/.bash_profile | ~/.bash_login | ~/.profile) return 0 ;;
        esac
    fi
    __guard_armed=1
    __guard_restate
    \builtin shopt -q extdebug || \builtin shopt -s extdebug
}

# Call the DEBUG traps that were there before us, with $_ as they would have seen it.
__guard_call_chain() {
    local rc=0 i
    __guard_busy=1
    for ((i = 0; i < ${#__guard_chain[@]}; i++)); do
        "__guard_chained$i" "$1" || rc=$?
    done
    __guard_busy=''
    return "$rc"
}

# Make our trap the DEBUG trap, chaining the trap that is there now ($1: `trap -p DEBUG`,
# captured by the caller, because a function without the trace attribute does not see the
# DEBUG trap), once per distinct trap.
__guard_install() {
    local cur=$1 prev='' i
    __guard_demoted=''
    if [[ -n $cur ]]; then
        cur=${cur#trap -- }
        cur=${cur% DEBUG}
        \builtin eval "prev=$cur"
    fi
    \builtin set -o functrace
    [[ $prev != *__guard_trap* ]] || return 0 # ours (also from an older version of this file)
    if [[ -n $prev ]]; then
        for i in "${!__guard_chain[@]}"; do
            [[ ${__guard_chain[i]} != "$prev" ]] || prev=
        done
    fi
    if [[ -n $prev ]]; then
        i=${#__guard_chain[@]}
        __guard_chain+=("$prev")
        # A function, so $_ is right for its first command; the newline ends a trailing comment.
        \builtin eval "__guard_chained$i() {
$prev
}" 2>/dev/null || { \builtin unset -v '__guard_chain[i]'; }
    fi
    __guard_restate
    \builtin trap -- "$__guard_trapstr" DEBUG
}

# First thing at each prompt: per-prompt state, and take the trap back if someone replaced it
# (we notice because the trap did not run for this very function).
__guard_prompt() {
    local rc=$?
    __guard_failwarned='' __guard_abort=''
    __guard_restate
    if [[ -z $__guard_tick ]]; then
        __guard_busy=1
        __guard_install "$(\builtin trap -p DEBUG)"
        __guard_busy=''
    fi
    [[ $- == *T* ]] || \builtin set -o functrace
    __guard_tick=''
    return "$rc"
}

# Keep PROMPT_COMMAND a string or an array, as the user has it; ours goes first.
if [[ $- == *i* ]]; then
    if [[ ${PROMPT_COMMAND@a} == *a* ]]; then
        [[ " ${PROMPT_COMMAND[*]} " == *" __guard_prompt "* ]] ||
            PROMPT_COMMAND=(__guard_prompt "${PROMPT_COMMAND[@]}")
    elif [[ ${PROMPT_COMMAND-} != *__guard_prompt* ]]; then
        # shellcheck disable=SC2128,SC2178  # a string here, checked above
        PROMPT_COMMAND="__guard_prompt${PROMPT_COMMAND:+$'\n'$PROMPT_COMMAND}"
    fi
fi
\builtin declare -ft __guard_prompt
__guard_install "$(\builtin trap -p DEBUG)"
