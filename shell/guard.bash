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
# unchanged. Anything else goes to __guard_full. Python runs only on a miss, once per simple
# command for all of its uncached words.

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
    \builtin declare -gA __guard_kind __guard_okf __guard_okh __guard_okp
    \builtin declare -ga __guard_chain
    __guard_kind=() # word -> b (builtin/keyword: pass) | w (wrapper: look through)
    __guard_okf=()  # cache key -> "__guard_tN[@]": the `test` arguments revalidating an ok
    __guard_okh=()  # cache key -> the hash-table entry that answer holds for
    __guard_okp=()  # cache key -> 1 when the answer came from a PATH search
    __guard_fast=() # _word -> `:` (builtin/keyword) or __guard_vN (cached ok, see __guard_fastfn)
    __guard_chain=() # foreign DEBUG traps that we call, oldest first
    __guard_path=${PATH-} __guard_n=0
fi
__guard_loaded=1 __guard_busy='' __guard_state=$'\x01u' __guard_rc=0 __guard_1='' __guard_abort='' __guard_tick='' __guard_found=''
__guard_failwarned='' __guard_armed='' __guard_demoted='' __guard_unchecked='' __guard_kp=''
__guard_gmode=${__guard_gmode-} __guard_gmode_env=${__guard_gmode_env-}
\builtin declare -gA __guard_act __guard_msg
__guard_act=() __guard_msg=()
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
    # keywords, or __guard_vN for a cached ok verdict; see __guard_fastfn). One `case` on the
    # raw text is the cheapest test bash has, but every pattern is copied with the body on each
    # call, so only the commonest are listed. __guard_state is empty, or starts with \x01 (see
    # __guard_restate), so that nothing but the first pattern can match.
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

# Everything the hot path did not answer. Same arguments as __guard_trap, or none when a
# foreign trap runs the first word of ours (starship).
__guard_full() {
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
    case ${FUNCNAME[2]-} in
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
    if [[ $__guard_1 == "$BASH_COMMAND" && $__guard_1 == [A-Za-z_]*=* &&
        ${__guard_1%%=*} != *[!A-Za-z0-9_+]* && $__guard_1 != *[\$\`\\\'\"\(\<\>]* ]]; then
        : # a plain assignment: nothing runs
    elif [[ -n $__guard_1 && ${__guard_kind[_$__guard_1]-} == b &&
        $BASH_COMMAND != *@([\$\<\>]\(|\`)* ]]; then
        : # a builtin or keyword, without a substitution to check
    else
        __guard_slow "${@:1:$# - 1}" || __guard_rc=$?
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


# __guard_state is empty unless the trap has more to do than check the command: an aborted
# command line, extdebug not yet armed, or foreign traps to call.
__guard_restate() {
    __guard_state=''
    [[ -z $__guard_abort ]] || __guard_state+=$'\x01a'
    [[ -n $__guard_armed ]] || __guard_state+=$'\x01u'
    ((${#__guard_chain[@]} == 0)) || __guard_state+=$'\x01c'
}

# Find and check every command word of this simple command. Returns 0 (run) or 1 (skip);
# in a non-interactive shell a block never returns: it exits 126.
__guard_slow() {
    # `local -` restores set options on return: words are split with globbing off and
    # nounset off, without touching the user's settings.
    \builtin local - IFS=$' \t\n'
    \builtin set +u -f
    local -a __guard_w=() __guard_q=() __guard_hq=() __guard_msgs=()
    local __guard_deny='' __guard_word __guard_h __guard_key __guard_i
    local __guard_posok=1
    [[ -z $__guard_demoted ]] || __guard_posok=''
    local -a __guard_qs=()
    local __guard_sp='' __guard_cs
    __guard_cmdwords "$BASH_COMMAND" "$__guard_posok" "$@"
    ((${#__guard_w[@]})) || return 0
    [[ $PATH == "$__guard_path" ]] || __guard_reset
    # __guard_w holds "P:word" (looked up by bash: functions, builtins, hash table, PATH),
    # "E:word" (looked up by exec*p in PATH, e.g. after env/sudo), "!:message" (denied), or
    # "=:SCOPE" before a word looked up in a command-scoped PATH (see __guard_scope).
    for __guard_word in "${__guard_w[@]}"; do
        case $__guard_word in
        '!:'*)
            [[ -n $__guard_deny ]] || __guard_deny=${__guard_word#!:}
            continue
            ;;
        '=:'*)
            __guard_sp=${__guard_word#=:}
            continue
            ;;
        esac
        __guard_cs=$__guard_sp __guard_sp=''
        local __guard_how=${__guard_word%%:*}
        __guard_word=${__guard_word#?:}
        [[ -n $__guard_word ]] || continue
        __guard_h=''
        if [[ $__guard_how == P && $__guard_word != */* ]]; then
            case $__guard_word in
            command | exec | builtin | trap) continue ;; # builtins (trap: see __guard_trapcmd)
            esac
            [[ ${__guard_kind[_$__guard_word]-} != b ]] || continue
            \builtin declare -F -- "$__guard_word" >/dev/null 2>&1 && continue
            if [[ -z ${__guard_kind[_$__guard_word]-} ]]; then
                case $(\builtin type -t -- "$__guard_word" 2>/dev/null) in
                builtin | keyword)
                    __guard_kind[_$__guard_word]=b __guard_fast[_$__guard_word]=:
                    continue
                    ;;
                alias | function) continue ;;
                esac
            fi
            [[ -n $__guard_cs ]] || __guard_h=${BASH_CMDS[$__guard_word]-}
        fi
        __guard_key=$__guard_word
        [[ $__guard_word != */* || $__guard_word == /* ]] || __guard_key=$PWD$'\x1f'$__guard_word
        case $__guard_cs in
        '') ;;
        '!')
            [[ -n $__guard_deny ]] ||
                __guard_deny="guard: blocked ${__guard_word//[[:cntrl:]]/?}: its command-scoped PATH cannot be known before it runs; use literal text or plain \$NAME in PATH=..."
            continue
            ;;
        *)
            # A command-scoped PATH: bash (and a wrapper's execvp) search it, not the hash
            # table. Asked with that PATH, cached under a key holding it (and the directory
            # when it has relative entries).
            __guard_cs=${__guard_cs#=}
            if [[ :$__guard_cs: == *:[!/]* ]]; then
                __guard_cs=$'\x1e'$__guard_cs$'\x1f'$PWD$'\x1e'
            else
                __guard_cs=$'\x1e'$__guard_cs$'\x1e'
            fi
            __guard_key=$__guard_cs$__guard_key
            ;;
        esac
        __guard_valid "$__guard_key" "$__guard_word" "$__guard_h" && continue
        __guard_q+=("$__guard_word")
        __guard_qs+=("$__guard_cs")
        [[ -z $__guard_h ]] || __guard_hq+=(--hashed "$__guard_word" "$__guard_h")
    done
    if [[ -n $__guard_deny ]] && __guard_mode_blocks; then
        __guard_block "$__guard_deny"
        return 1
    fi
    [[ -z $__guard_deny ]] || __guard_msgs+=("$__guard_deny")
    # One query per PATH the words are looked up in: the shell's, then each command-scoped one.
    local __guard_g __guard_j
    local -a __guard_gw
    local -A __guard_seen=()
    for ((__guard_j = 0; __guard_j < ${#__guard_q[@]}; __guard_j++)); do
        __guard_g=${__guard_qs[__guard_j]}
        [[ -z ${__guard_seen[x$__guard_g]-} ]] || continue
        __guard_seen[x$__guard_g]=1
        __guard_gw=()
        for ((__guard_i = __guard_j; __guard_i < ${#__guard_q[@]}; __guard_i++)); do
            [[ ${__guard_qs[__guard_i]} != "$__guard_g" ]] || __guard_gw+=("${__guard_q[__guard_i]}")
        done
        __guard_query "$__guard_g" "${__guard_gw[@]}" || return $?
        [[ -z $__guard_unchecked ]] || return 0 # guard failed; __guard_fail said so
        for __guard_word in "${__guard_gw[@]}"; do
            case ${__guard_act[$__guard_word]-} in
            ok | monitor) ;;
            warn) __guard_msgs+=("${__guard_msg[$__guard_word]}") ;;
            ask)
                if ! __guard_ask "$__guard_word" "${__guard_msg[$__guard_word]}"; then
                    __guard_block ''
                    return 1
                fi
                ;;
            *)
                __guard_block "${__guard_msg[$__guard_word]:-guard: blocked $__guard_word}"
                return 1
                ;;
            esac
        done
    done
    for __guard_i in "${__guard_msgs[@]}"; do
        \builtin printf '%s\n' "$__guard_i" >&2
    done
    return 0
}

# The command words of the simple command $1 into __guard_w: its own, and (in the parent, so
# that a block stops the whole command, and a script exits 126, before the subshell starts) the
# first command of each $( ), ` `, <( ) and >( ). The subshell's own trap checks the rest.
# $2 and the rest: as for __guard_words.
__guard_cmdwords() {
    local __guard_cs=$1 __guard_cp=$2 __guard_inner=''
    shift 2
    __guard_words "$__guard_cs" "$__guard_cp" "$@"
    if [[ $__guard_cs == *[\$\<\>]\(* || $__guard_cs == *\`* ]]; then
        local __guard_m __guard_r __guard_q1 __guard_pq
        for __guard_m in '$(' '<(' '>(' '`'; do
            __guard_r=$__guard_cs __guard_pq=''
            __guard_inner=$__guard_m
            while [[ $__guard_r == *"$__guard_m"* ]]; do
                __guard_q1=${__guard_r%%"$__guard_m"*}
                __guard_r=${__guard_r#*"$__guard_m"}
                # An odd number of ' before it: probably quoted text, left to the subshell.
                __guard_q1=${__guard_q1//[!\']/}
                [[ -z $__guard_pq ]] || __guard_q1+=\'
                __guard_pq=''
                ((${#__guard_q1} % 2 == 0)) || __guard_pq=1
                if [[ -z $__guard_pq ]] && [[ $__guard_m != '$(' || $__guard_r != '('* ]]; then
                    __guard_words "$__guard_r" "$__guard_cp" "$@" # ^ $(( )) is arithmetic
                fi
                [[ $__guard_m != '`' ]] || __guard_r=${__guard_r#*'`'} # past the closing one
            done
        done
        __guard_inner=''
    fi
}

# ---- finding the command words of one simple command ------------------------------------
# BASH_COMMAND is bash's own re-print of the simple command: assignments, then words, then
# redirections (always last, as `> file`, `2>&1`, `<<EOF` + here-document). Words are still
# unexpanded, quotes and $( ) included.

# Next raw word of __guard_s from __guard_pos into __guard_tok. Returns 1 at the end or at the
# first redirection.
__guard_next() {
    local c st='' n=${#__guard_s} rest
    while [[ ${__guard_s:__guard_pos:1} == [[:space:]] ]]; do ((++__guard_pos)); done
    ((__guard_pos < n)) || return 1
    rest=${__guard_s:__guard_pos:40}
    if [[ $rest =~ ^([0-9]+|\{[A-Za-z_][A-Za-z0-9_]*\})?(\<|\>|\&\>) && $rest != [\<\>]\(* ]]; then
        return 1
    fi
    local start=$__guard_pos
    # st is a stack of open contexts: ' " a($'') ` ( {
    while ((__guard_pos < n)); do
        c=${__guard_s:__guard_pos:1}
        case ${st: -1} in
        "'")
            [[ $c != "'" ]] || st=${st%?}
            ;;
        a)
            if [[ $c == \\ ]]; then ((++__guard_pos)); elif [[ $c == "'" ]]; then st=${st%?}; fi
            ;;
        '`')
            if [[ $c == \\ ]]; then ((++__guard_pos)); elif [[ $c == '`' ]]; then st=${st%?}; fi
            ;;
        '"')
            case $c in
            \\) ((++__guard_pos)) ;;
            '"') st=${st%?} ;;
            '`') st+='`' ;;
            '$')
                case ${__guard_s:__guard_pos+1:1} in
                '(') st+='(' && ((++__guard_pos)) ;;
                '{') st+='{' && ((++__guard_pos)) ;;
                esac
                ;;
            esac
            ;;
        *)
            case $c in
            [[:space:]]) [[ -n $st ]] || break ;;
            # Only inside a substitution's text (__guard_inner): these end its first command.
            ';' | '|' | '&') [[ -n $st || -z $__guard_inner ]] || break ;;
            \\) ((++__guard_pos)) ;;
            "'") st+="'" ;;
            '"') st+='"' ;;
            '`')
                [[ -n $st || $__guard_inner != '`' ]] || break
                st+='`'
                ;;
            '$')
                case ${__guard_s:__guard_pos+1:1} in
                "'") st+=a && ((++__guard_pos)) ;;
                '(') st+='(' && ((++__guard_pos)) ;;
                '{') st+='{' && ((++__guard_pos)) ;;
                esac
                ;;
            '(') st+='(' ;;
            ')')
                if [[ ${st: -1} == '(' ]]; then
                    st=${st%?}
                elif [[ -z $st && -n $__guard_inner ]]; then
                    break
                fi
                ;;
            '}') [[ ${st: -1} != '{' ]] || st=${st%?} ;;
            esac
            ;;
        esac
        ((++__guard_pos))
    done
    __guard_tok=${__guard_s:start:__guard_pos-start}
    return 0
}

# Expand one raw word the way bash will, into the array __guard_f, only when that cannot have
# side effects. Returns 1 when the word cannot be resolved safely (the caller denies it).
# Runs with the caller's positional parameters as "$@", so "$@" and $1 resolve as in the
# caller. Local names all start with __guard_ so they cannot shadow the user's variables.
__guard_expand() {
    local __guard_r=$1 __guard_posok=$2
    shift 2
    __guard_f=()
    if [[ $__guard_r == *[\$\`]* ]]; then
        [[ -z ${__guard_late-} ]] || return 1 # in a trap string: its value when the trap fires
        case $__guard_r in
        *'$('* | *'`'* | *'$['* | *'='* | *'?'* | *'++'* | *'--'* | *@[A-Za-z]*) return 1 ;;
        esac
        if [[ -z $__guard_posok && $__guard_r =~ \$\{?[0-9@*#] ]]; then
            return 1
        fi
    fi
    if [[ $__guard_r == *[*?[]* ]]; then
        \builtin set +f
    fi
    \builtin eval "__guard_f=( $__guard_r )" 2>/dev/null || return 1
    \builtin set -f
    return 0
}

# Fill __guard_w with "HOW:word" for every command word of the simple command $1, where HOW
# is P (bash looks it up: function, builtin, hash table, PATH), C (bash, but no functions:
# command/exec) or E (execvp in PATH: after env, sudo, xargs…); "!:message" for a word that
# must be denied. $2 says whether "$@" (the rest) are the caller's positional parameters.
__guard_words() {
    local __guard_s=$1 __guard_posok=$2
    shift 2
    local __guard_pos=0 __guard_tok __guard_t __guard_how=P __guard_asg=1 __guard_opt=''
    local __guard_sa='' __guard_ss='' __guard_so='' __guard_la='' __guard_npos=0 __guard_x
    local __guard_sc='' __guard_wr='' __guard_uo='' # command-scoped PATH, wrapper, `env -u`
    local -a __guard_pend=() __guard_f=()
    while :; do
        if ((${#__guard_pend[@]})); then
            __guard_t=${__guard_pend[0]}
            __guard_pend=("${__guard_pend[@]:1}")
            __guard_tok=''
        else
            __guard_next || return 0
            __guard_t=''
        fi
        # Assignments before a command word (and after env/sudo).
        if [[ -n $__guard_asg ]]; then
            __guard_x=${__guard_tok:-$__guard_t}
            if [[ $__guard_x =~ ^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?= ]]; then
                # PATH=… before the command (or as env's operand) scopes its lookup.
                if [[ $__guard_x == PATH=* || $__guard_x == PATH+=* ]] && [[ $__guard_wr != sudo ]]; then
                    __guard_scope "$__guard_x" "$__guard_tok"
                fi
                continue
            fi
        fi
        # Options of the wrapper we are in.
        if [[ -n $__guard_opt ]]; then
            __guard_x=${__guard_tok:-$__guard_t}
            __guard_x=${__guard_x//[\"\']/}
            if [[ $__guard_opt == arg ]]; then
                [[ -z $__guard_uo || $__guard_x != PATH ]] || __guard_sc='=/bin:/usr/bin'
                __guard_opt=on __guard_uo=''
                continue
            fi
            if [[ $__guard_opt == split ]]; then
                # env -S 'cmd args': the command is the first word of the string.
                __guard_opt=''
                __guard_t=${__guard_x%%[[:space:]]*}
                __guard_tok=''
            elif [[ $__guard_x == -- ]]; then
                __guard_opt=''
                continue
            elif [[ $__guard_x == --* ]]; then
                if [[ $__guard_wr == env ]]; then
                    # env -i, -u PATH: GNU env's execvp then searches glibc's default PATH.
                    case $__guard_x in
                    --unset) __guard_uo=1 ;;
                    --unset=PATH | --ignore-environment) __guard_sc='=/bin:/usr/bin' ;;
                    esac
                fi
                [[ $__guard_x == *=* || $__guard_la != *" ${__guard_x} "* ]] || __guard_opt=arg
                [[ $__guard_x != --split-string ]] || __guard_opt='split'
                [[ $__guard_x != --split-string=* ]] || {
                    __guard_opt=''
                    __guard_pend=("${__guard_x#*=}")
                }
                continue
            elif [[ $__guard_x == -?* ]]; then
                local __guard_i __guard_l
                for ((__guard_i = 1; __guard_i < ${#__guard_x}; __guard_i++)); do
                    __guard_l=${__guard_x:__guard_i:1}
                    if [[ $__guard_wr == env ]]; then
                        if [[ $__guard_l == i ]]; then
                            __guard_sc='=/bin:/usr/bin'
                        elif [[ $__guard_l == u ]]; then
                            [[ ${__guard_x:__guard_i+1} != PATH ]] || __guard_sc='=/bin:/usr/bin'
                            ((__guard_i + 1 < ${#__guard_x})) || __guard_uo=1
                        fi
                    fi
                    if [[ $__guard_ss == *"$__guard_l"* ]]; then
                        return 0 # e.g. command -v, sudo -l: nothing is run
                    fi
                    if [[ $__guard_sa == *"$__guard_l"* ]]; then
                        if ((__guard_i + 1 == ${#__guard_x})); then
                            __guard_opt=arg
                            [[ $__guard_l != S || $__guard_x != -S ]] || __guard_opt='split'
                        elif [[ $__guard_l == S ]]; then
                            __guard_t=${__guard_x:__guard_i+1}
                            __guard_pend=("${__guard_t%%[[:space:]]*}")
                        fi
                        break
                    fi
                    [[ $__guard_so != *"$__guard_l"* ]] || break
                done
                continue
            elif [[ $__guard_x == - && $__guard_la == *" --unset "* ]]; then
                __guard_sc='=/bin:/usr/bin'
                continue # env -
            elif ((__guard_npos > 0)); then
                ((--__guard_npos))
                continue # timeout DURATION
            else
                __guard_opt=''
            fi
        fi
        # A command word: resolve it.
        if [[ -n $__guard_tok ]]; then
            case $__guard_tok in
            '[['* | '(('*) return 0 ;; # keywords: [[ ]] and (( )); their $( ) are traced
                *'$('* | *'`'*)
                __guard_w+=("!:guard: blocked command substitution in command position: ${__guard_tok//[[:cntrl:]]/?}")
                return 0
                ;;
            *[\$\\\'\"~\{*?[]*)
                if ! __guard_expand "$__guard_tok" "$__guard_posok" "$@"; then
                    __guard_w+=("!:guard: blocked a command word guard cannot resolve safely: ${__guard_tok//[[:cntrl:]]/?}")
                    return 0
                fi
                ((${#__guard_f[@]})) || continue # expanded to nothing: the next word is the command
                __guard_t=${__guard_f[0]}
                __guard_pend=("${__guard_f[@]:1}" "${__guard_pend[@]}")
                ;;
            *) __guard_t=$__guard_tok ;;
            esac
        fi
        [[ -n $__guard_t ]] || return 0 # "" is not found; bash says so itself
        [[ -z $__guard_sc ]] || __guard_w+=("=:$__guard_sc")
        __guard_w+=("$__guard_how:$__guard_t")
        if [[ $__guard_t == trap && $__guard_how != E ]]; then
            __guard_trapcmd
            return 0
        fi
        # Look through wrappers.
        __guard_x=${__guard_t##*/}
        [[ -n $__guard_x && ${__guard_kind[_$__guard_x]-} == w ]] || return 0
        __guard_wr=$__guard_x
        case $__guard_x in
        command | exec | builtin) [[ $__guard_t != */* ]] || return 0 ;;
        esac
        __guard_how=E __guard_asg='' __guard_opt=on __guard_sa='' __guard_ss='' __guard_so=''
        __guard_la=' ' __guard_npos=0
        case $__guard_x in
        builtin)
            # Runs a builtin: nothing to check, but `builtin trap CMD SIG` sets a trap.
            __guard_next || return 0
            [[ ${__guard_tok//[\\\'\"]/} != trap ]] || __guard_trapcmd
            return 0
            ;;
        command) __guard_how=C __guard_ss=vV ;;
        exec) __guard_how=C __guard_sa=a ;;
        env)
            __guard_asg=1 __guard_sa=uCS
            __guard_la=' --unset --chdir --split-string '
            ;;
        nice) __guard_sa=n __guard_la=' --adjustment ' ;;
        time) __guard_sa=fo __guard_la=' --format --output ' ;;
        sudo)
            __guard_asg=1 __guard_sa=ugpCrhtUDRT __guard_ss=elvVK
            __guard_la=' --user --group --prompt --close-from --role --host --type --other-user --chdir --chroot --command-timeout '
            ;;
        doas) __guard_sa=u __guard_ss=C ;;
        xargs)
            __guard_sa=adEILnPs __guard_so=eil
            __guard_la=' --arg-file --delimiter --eof --replace --max-lines --max-args --max-procs --max-chars --process-slot-var '
            ;;
        timeout) __guard_sa=sk __guard_npos=1 __guard_la=' --signal --kill-after ' ;;
        stdbuf) __guard_sa=ioe __guard_la=' --input --output --error ' ;;
        esac
    done
}

# A command-scoped PATH: `PATH=RAW cmd`, `PATH+=RAW cmd`, `env PATH=RAW cmd` ($1 the word,
# $2 the raw word, empty when it came out of an expansion). __guard_sc becomes `=VALUE` when
# RAW is static (literal text, quotes, ~, plain $NAME/${NAME}: reading them runs nothing),
# else `!` (the word is then denied in block mode).
__guard_scope() {
    local __guard_r=${2#PATH} __guard_a='' __guard_v
    __guard_sc='!'
    [[ -n $2 ]] || return 0
    [[ $__guard_r != +* ]] || __guard_a=${PATH-}
    __guard_r=${__guard_r#+}
    __guard_r=${__guard_r#=}
    __guard_v=$__guard_r
    while [[ $__guard_v =~ \$([A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\}) ]]; do
        __guard_v=${__guard_v/"${BASH_REMATCH[0]}"/}
    done
    [[ $__guard_v != *[\$\`\\\(\)\<\>\;\&\|\{\}\[\]\*\?\!\#^[:cntrl:]]* ]] || return 0
    \builtin eval "__guard_v=$__guard_r" 2>/dev/null || return 0
    __guard_sc="=$__guard_a$__guard_v"
}

# Is the raw word $1 free of expansions outside single quotes other than plain $NAME/${NAME}
# (reading them runs nothing), so that its value is known now? (The quoted stretches this
# sees end no later than bash's: never less strict.)
__guard_static() {
    local r=$1 c q='' i
    for ((i = 0; i < ${#r}; i++)); do
        c=${r:i:1}
        if [[ $q == "'" ]]; then
            [[ $c != "'" ]] || q=''
            continue
        fi
        case $c in
        \\) ((++i)) ;;
        "'") [[ $q == '"' ]] || q="'" ;;
        '"') if [[ $q == '"' ]]; then q=''; else q='"'; fi ;;
        '$')
            if [[ -z $q && ${r:i+1:1} == "'" ]]; then
                :
            elif [[ ${r:i+1} =~ ^([A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\}) ]]; then
                ((i += ${#BASH_REMATCH[0]}))
            else
                return 1
            fi
            ;;
        '`') return 1 ;;
        esac
    done
    return 0
}

# `trap CMD SIG…` (called by __guard_words, reading the rest of its words): bash runs no
# DEBUG trap inside a trap handler, so the commands of CMD are checked now, when it is set,
# with the PATH of now; a CMD whose text is not static is denied. Command words in CMD that
# are expansions ($X) are denied too: their value when the trap fires is unknown.
__guard_trapcmd() {
    local -a __guard_ops=()
    local __guard_late=1 __guard_c __guard_o=1 __guard_sg='' __guard_ch __guard_st='' __guard_k
    while __guard_next; do
        if [[ -n $__guard_o ]]; then
            case $__guard_tok in
            --)
                __guard_o=''
                continue
                ;;
            -[lpP]*) return 0 ;; # lists or prints traps: sets none
            esac
            __guard_o=''
        fi
        __guard_ops+=("$__guard_tok")
    done
    ((${#__guard_ops[@]} >= 2)) || return 0 # `trap SIG`: resets it
    __guard_c=${__guard_ops[0]}
    if ! __guard_static "$__guard_c" || ! \builtin eval "__guard_c=$__guard_c" 2>/dev/null; then
        __guard_w+=("!:guard: blocked trap: its command string cannot be known before it runs: ${__guard_c//[[:cntrl:]]/?}")
        return 0
    fi
    [[ $__guard_c != - ]] || return 0
    # Split CMD into its simple commands at ; & | and newlines outside quotes and ( ).
    for ((__guard_k = 0; __guard_k <= ${#__guard_c}; __guard_k++)); do
        __guard_ch=${__guard_c:__guard_k:1}
        if [[ -z $__guard_st ]] && [[ -z $__guard_ch || $__guard_ch == [\;\&\|$'\n'] ]]; then
            __guard_trapseg "$__guard_sg"
            __guard_sg=''
            continue
        fi
        __guard_sg+=$__guard_ch
        case ${__guard_st: -1}$__guard_ch in
        "''") __guard_st=${__guard_st%?} ;;
        "'"*) ;;
        '``' | '""' | '()') __guard_st=${__guard_st%?} ;;
        [\`\"\(]\\ | \\)
            ((++__guard_k))
            __guard_sg+=${__guard_c:__guard_k:1}
            ;;
        '`'*) ;;
        '"`') __guard_st+='`' ;;
        '"(') [[ ${__guard_c:__guard_k-1:1} != '$' ]] || __guard_st+='(' ;;
        '"'*) ;;
        *[\'\"\(\`]) __guard_st+=$__guard_ch ;;
        esac
    done
}

# One simple command of a trap string: leading keywords and ( { ! off, then its words.
__guard_trapseg() {
    local __guard_g=$1
    while :; do
        __guard_g=${__guard_g#"${__guard_g%%[![:space:]]*}"}
        case $__guard_g in
        [\(\{\!]*) __guard_g=${__guard_g:1} ;;
        if[[:space:]]* | then[[:space:]]* | else[[:space:]]* | elif[[:space:]]* | do[[:space:]]* | \
            while[[:space:]]* | until[[:space:]]* | time[[:space:]]*)
            __guard_g=${__guard_g#*[[:space:]]}
            ;;
        *) break ;;
        esac
    done
    [[ -z $__guard_g ]] || __guard_cmdwords "$__guard_g" ''
}

# Is the cached ok for KEY still good for WORD whose hash-table entry is now H?
__guard_valid() {
    local n=${__guard_okf[$1]-}
    [[ -n $n ]] || return 1
    if [[ $3 != "${__guard_okh[$1]-}" ]]; then
        # The answer came from a PATH search; a hash entry naming the PATH winner is the same
        # file (bash hashes a command after its first run). Anything else needs a new answer.
        [[ ${__guard_okp[$1]-} == 1 ]] || return 1
        if [[ -n $3 ]]; then
            __guard_pathfind "$2"
            [[ $3 == "$__guard_found" ]] || return 1
        fi
        __guard_okh[$1]=$3
        \builtin test "${!n}" || return 1
        __guard_fastfn "$1" "${n//[!0-9]/}"
        return 0
    fi
    \builtin test "${!n}"
}

# Make __guard_vN, the hot-path check for cache KEY ($1, answer number $2), and enter it in
# __guard_fast: one `[[ ]]` on literal words (PATH, the hash-table entry, no WATCH path newer
# than STAMP). A generated function because a call copies only its small body, and literal
# words expand with few allocations; after every fork each heap page the parent writes costs
# a copy-on-write fault, so the hot path must allocate little. Only for answers that do not
# depend on the working directory and are not wrappers (whose operands need the full check).
__guard_fastfn() {
    local key=$1 n=$2 c h='' i
    [[ $key != *[$'\x1e\x1f']* && -z ${__guard_kind[_${key##*/}]-} ]] || return 0
    local -a t=("${!__guard_okf[$key]}")
    for ((i = 2; i + 2 < ${#t[@]}; i += 4)); do
        [[ ${t[i + 1]} != -nt ]] || h+="${h:+ || }${t[i]@Q} -nt ${t[i + 2]@Q}"
    done
    c='$PATH == "$__guard_path"'
    # Absolute paths are not hashed by bash; PATH still counts (`#!/usr/bin/env node`).
    [[ $key == /* ]] || c+=" && \${BASH_CMDS[${key@Q}]-} == ${__guard_okh[$key]@Q}"
    [[ -z $h ]] || c+=" && ! ( $h )"
    \builtin eval "__guard_v$n() { [[ $c ]]; }" && __guard_fast[_$key]=__guard_v$n
}

# First executable regular file named $1 on PATH, as bash would find it.
__guard_pathfind() {
    local rest=${PATH-}: d
    __guard_found=''
    while [[ -n $rest ]]; do
        d=${rest%%:*}
        rest=${rest#*:}
        [[ -n $d ]] || d=.
        if [[ -f $d/$1 && -x $d/$1 ]]; then
            __guard_found=$d/$1
            return 0
        fi
    done
    return 1
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
    __guard_okf=() __guard_okh=() __guard_okp=()
    __guard_path=${PATH-}
}

# Run guard once for the uncached words $2… ($1: '' for the shell's PATH, with the hashed
# entries in __guard_hq; else the cache-key prefix of a command-scoped PATH, which the query
# then runs with). The reply's first line (--want-mode) is the effective mode (__guard_mode).
__guard_query() {
    local out rc kp=$1 sp=${1#?}
    shift
    __guard_act=() __guard_msg=() __guard_unchecked=''
    local -a args=(_query --shell bash --want-mode) hq=()
    [[ $- != *i* ]] || args+=(--interactive)
    if [[ -z $kp ]]; then
        hq=("${__guard_hq[@]}")
    else
        sp=${sp%?}
        sp=${sp%%$'\x1f'*}
    fi
    __guard_busy=1
    out=$(
        [[ -z $kp ]] || PATH=$sp
        \builtin export PATH
        "${__guard_bin[@]}" "${args[@]}" "${hq[@]}" -- "$@" 2>&1
    )
    rc=$?
    __guard_busy=''
    if ((rc == 0)) && [[ $out == __guard_mode* || $out == __guard_put* ]]; then
        __guard_kp=$kp
        \builtin eval -- "$out"
        __guard_kp=''
        return 0
    fi
    __guard_fail "$rc" "${out%%$'\n'*}"
}

# The reply's first line (`--want-mode`): the effective mode (config.yaml, GUARD_MODE, the
# system policy's floor) as guard saw it, for the hook's own decisions (__guard_curmode).
__guard_mode() {
    case $1 in
    block | warn | monitor) __guard_gmode=$1 ;;
    *) __guard_gmode=block ;;
    esac
    __guard_gmode_env=${GUARD_MODE+1}:${GUARD_MODE-}
}

# __guard_m: the mode for the hook's own decisions (a dynamic command word, guard failing in
# a script): the one guard last reported while GUARD_MODE is what it was then, else
# GUARD_MODE (status 1).
__guard_curmode() {
    if [[ -n $__guard_gmode && $__guard_gmode_env == "${GUARD_MODE+1}:${GUARD_MODE-}" ]]; then
        __guard_m=$__guard_gmode
        return 0
    fi
    __guard_m=${GUARD_MODE:-block}
    return 1
}

# guard could not answer. Interactive: warn once per prompt and run. Non-interactive: fail
# closed (exit 126) unless GUARD_MODE says warn or monitor.
__guard_fail() {
    __guard_unchecked=1
    local why="guard: cannot check commands (guard exited $1${2:+: ${2//[[:cntrl:]]/?}})"
    if [[ $- == *i* ]]; then
        if [[ -z $__guard_failwarned ]]; then
            __guard_failwarned=1
            \builtin printf '%s; running unchecked\n' "$why" >&2
        fi
        return 0
    fi
    local __guard_m
    __guard_curmode
    case $__guard_m in
    warn | monitor)
        if [[ -z $__guard_failwarned ]]; then
            __guard_failwarned=1
            \builtin printf '%s; running unchecked (mode %s)\n' "$why" "$__guard_m" >&2
        fi
        return 0
        ;;
    esac
    \builtin printf '%s; refusing to run\n' "$why" >&2
    \builtin exit 126
}

# Called by guard's reply: __guard_put WORD ACTION STAMP MESSAGE [WATCH...]
__guard_put() {
    local word=$1 act=$2 stamp=$3 key n w
    local -a t=('!' '(')
    __guard_act[$word]=$act
    __guard_msg[$word]=$4
    [[ $act == ok && -n $stamp ]] || return 0
    shift 4
    key=$word
    [[ $word != */* || $word == /* ]] || key=$PWD$'\x1f'$word
    key=$__guard_kp$key
    n=${__guard_okf[$key]-}
    if [[ -n $n ]]; then
        n=${n%\[*}
        \builtin unset -v "$n" '__guard_fast[_$key]'
        \builtin unset -f "__guard_v${n#__guard_t}"
    fi
    n=$((++__guard_n))
    # `test ! ( W1 -nt STAMP -o W2 -nt STAMP … )` from an array: a builtin call on ready-made
    # words, no function body to copy and few heap writes (after every fork each page the
    # parent writes costs a copy-on-write fault, so the hot path must write little).
    for w; do
        t+=("$w" -nt "$stamp" -o)
    done
    (($# > 0)) || t+=(-n x -o) # nothing to watch: always valid
    t[${#t[@]} - 1]=')'
    \builtin eval "__guard_t$n=(\"\${t[@]}\")"
    __guard_okf[$key]="__guard_t${n}[@]"
    # Which hash-table entry this answer holds for; PATH-resolved answers hold for none.
    local h=
    [[ -n $__guard_kp ]] || for ((w = 0; w < ${#__guard_hq[@]}; w += 3)); do
        [[ ${__guard_hq[w + 1]} != "$word" ]] || h=${__guard_hq[w + 2]}
    done
    __guard_okh[$key]=$h
    if [[ -z $h ]]; then __guard_okp[$key]=1; else __guard_okp[$key]=0; fi
    __guard_fastfn "$key" "$n"
}

# Does the mode block? The one guard reported last (asked now if there is none yet for this
# GUARD_MODE; a failing guard leaves GUARD_MODE, default block).
__guard_mode_blocks() {
    local __guard_m
    if ! __guard_curmode; then
        __guard_query '' && __guard_curmode
    fi
    case $__guard_m in
    warn | monitor) return 1 ;;
    esac
    return 0
}

# Deny: print the message; interactive shells skip the command (extdebug) and the rest of the
# command line; non-interactive shells exit 126.
__guard_block() {
    [[ -z $1 ]] || \builtin printf '%s\n' "$1" >&2
    if [[ $- != *i* ]]; then
        \builtin exit 126
    fi
    \builtin shopt -q extdebug || \builtin shopt -s extdebug
    # Abort the rest of this command line (`blocked && deploy` must not deploy), until the
    # next prompt; only when our prompt hook is there to end it.
    [[ "${PROMPT_COMMAND[*]}" != *__guard_prompt* ]] || __guard_abort=${HISTCMD-0}
    __guard_restate
    return 1
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

# `ask`: a brand-new untrusted command in an interactive block-mode shell.
__guard_ask() {
    local ans=
    \builtin printf '%s\n' "$2" >&2
    { \builtin printf 'guard: trust and run %s? [y/N] ' "${1//[[:cntrl:]]/?}" >/dev/tty &&
        \builtin read -r ans </dev/tty; } 2>/dev/null || ans=
    case $ans in
    y | Y | yes | YES)
        __guard_busy=1
        (\builtin export PATH; "${__guard_bin[@]}" trust -- "$1")
        local rc=$?
        __guard_busy=''
        ((rc == 0)) || return 1
        __guard_reset
        return 0
        ;;
    esac
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
