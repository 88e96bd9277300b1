# shellcheck shell=bash disable=SC2016,SC2034,SC2154,SC2004  # SC2004: assoc arrays declared in guard.bash
# guard-lib.bash: the rest of the bash hook, which runs only in a forked child.
#
# shell/guard.bash keeps only what runs for every command (the DEBUG trap, the caches and
# their checks). Anything it cannot answer from those runs here, in a command substitution:
# the parent forks, the child evaluates this file's text (kept in the parent as one string,
# $__guard_lib, never as function definitions), finds and checks the command words, asks
# guard when needed, and prints bash code that the parent evaluates: cache entries, the mode
# guard reported, then `__guard_rc=N` (0 run, 1 skip) or `\builtin exit 126`.
#
# Why a child: bash copies nothing lazily. Every function defined in the interactive shell
# makes its malloc heap larger and more fragmented, and after each fork every heap page the
# shell then writes costs a copy-on-write fault (~2.5 us on a VM). Measured: +5 faults per
# external command per ~100 lines of function code defined, even never called; the whole hook
# defined in the parent cost ~65 faults (+150-200 us) per external command. The fork here
# happens only on a cache miss, which costs milliseconds anyway (a Python start).
#
# Parent state read here is a copy: every change the parent must keep goes through
# __guard_emit, as code. Protocol with guard itself: docs/hook-protocol.md.

# Code for the parent, one statement per line.
__guard_emit() {
    __guard_out+="$*"$'\n'
}

# The child's entry point: $@ are the caller's positional parameters. __guard_cmd is the
# command text (BASH_COMMAND, saved by the parent before the fork).
__guard_main() {
    __guard_out='' __guard_dyn='' __guard_ks=()
    [[ -z ${__guard_blnew-} ]] || __guard_emit "__guard_bl=${__guard_bl@Q}"
    local rc=0 k deps=:
    __guard_slow "$@" || rc=$?
    # A static command whose every word was checked ok: remember its text with the checks
    # it depends on (__guard_vf; `:` when it runs only builtins), so that the next run of the
    # same text needs no child.
    if ((rc == 0)) && [[ -z $__guard_dyn && -z $__guard_unchecked ]]; then
        for k in "${__guard_ks[@]}"; do
            if [[ -z ${__guard_vf[$k]-} ]]; then
                deps=''
                break
            fi
            deps+=" && ${__guard_vf[$k]}"
        done
        if [[ -n $deps ]]; then
            ((${#__guard_txt[@]} < 2000)) || __guard_emit '__guard_txt=()'
            __guard_emit "__guard_txt[_${__guard_cmd@Q}]=${deps@Q}"
        fi
    fi
    \builtin printf '%s__guard_rc=%s\n' "$__guard_out" "$rc"
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
    __guard_cmdwords "$__guard_cmd" "$__guard_posok" "$@"
    ((${#__guard_w[@]})) || return 0
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
            if \builtin declare -F -- "$__guard_word" >/dev/null 2>&1; then
                __guard_dyn=1 # a function now; the same text may run a file later
                continue
            fi
            if [[ -z ${__guard_kind[_$__guard_word]-} ]]; then
                if [[ -n ${BASH_ALIASES[$__guard_word]+x} ]]; then
                    __guard_dyn=1 # an alias (not expanded here: a word from an expansion)
                    continue
                fi
                # __guard_bl: bash's builtins and keywords (see __guard_child); `type -t` (a
                # fork) only where this bash has no `compgen`.
                if [[ -n $__guard_bl && $__guard_bl == *" $__guard_word "* ]] ||
                    [[ -z $__guard_bl && $(\builtin type -t -- "$__guard_word" 2>/dev/null) == @(builtin|keyword) ]]; then
                    __guard_emit "__guard_kind[_${__guard_word@Q}]=b __guard_fast[_${__guard_word@Q}]=:"
                    continue
                fi
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
        __guard_ks+=("$__guard_key")
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
            ok) ;;
            monitor) __guard_dyn=1 ;; # logged on every run
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
    ((${#__guard_msgs[@]} == 0)) || __guard_dyn=1
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
                [[ $__guard_tok != *[\$*?[]* ]] || __guard_dyn=1 # its value may change
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
    __guard_dyn=1
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
        \builtin test "${!n}" || return 1
        __guard_do "__guard_okh[${1@Q}]=${3@Q}"
        __guard_fastfn "$1" "${n//[!0-9]/}"
        return 0
    fi
    \builtin test "${!n}"
}

# Run CODE here and in the parent.
__guard_do() {
    \builtin eval "$1"
    __guard_emit "$1"
}

# Make __guard_vN, the check for cache KEY ($1, answer number $2): one `[[ ]]` on literal
# words (PATH, the hash-table entry, no WATCH path newer than STAMP), entered in __guard_vf
# (read by the text cache) and, unless the word is a wrapper whose operands need the full
# check, in __guard_fast (the trap's first-word lookup). A generated function: a call copies
# only its small body, and literal words expand with few heap writes. Only for answers that
# do not depend on the working directory or a command-scoped PATH.
__guard_fastfn() {
    local key=$1 n=$2 c h='' i
    [[ $key != *[$'\x1e\x1f']* ]] || return 0
    local -a t=("${!__guard_okf[$key]}")
    for ((i = 2; i + 2 < ${#t[@]}; i += 4)); do
        [[ ${t[i + 1]} != -nt ]] || h+="${h:+ || }${t[i]@Q} -nt ${t[i + 2]@Q}"
    done
    c="\$PATH == ${__guard_path@Q}" # PATH as a literal: one variable lookup less per call
    # Absolute paths are not hashed by bash; PATH still counts (`#!/usr/bin/env node`). An
    # answer from a PATH search also holds once bash hashes the word to that same file.
    if [[ $key != /* ]]; then
        local hv=${__guard_okh[$key]-}
        if [[ -z $hv && ${__guard_okp[$key]-} == 1 ]] && __guard_pathfind "$key"; then
            hv=$__guard_found
        fi
        c+=" && \${BASH_CMDS[${key@Q}]:-${hv@Q}} == ${hv@Q}"
    fi
    [[ -z $h ]] || c+=" && ! ( $h )"
    __guard_do "__guard_v$n() { [[ $c ]]; }"
    __guard_do "__guard_vf[${key@Q}]=__guard_v$n"
    [[ -n ${__guard_kind[_${key##*/}]-} ]] || __guard_do "__guard_fast[_${key@Q}]=__guard_v$n"
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
    __guard_emit "__guard_gmode=$__guard_gmode __guard_gmode_env=${__guard_gmode_env@Q}"
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
            __guard_do __guard_failwarned=1
            \builtin printf '%s; running unchecked\n' "$why" >&2
        fi
        return 0
    fi
    local __guard_m
    __guard_curmode
    case $__guard_m in
    warn | monitor)
        if [[ -z $__guard_failwarned ]]; then
            __guard_do __guard_failwarned=1
            \builtin printf '%s; running unchecked (mode %s)\n' "$why" "$__guard_m" >&2
        fi
        return 0
        ;;
    esac
    \builtin printf '%s; refusing to run\n' "$why" >&2
    __guard_die
}

# A non-interactive shell must not go on: the parent exits 126 (after keeping what was
# learnt). Ends the child.
__guard_die() {
    \builtin printf '%s\\builtin exit 126\n' "$__guard_out"
    \builtin exit 0
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
    # A new answer for a key keeps its number: cached texts name its check function.
    n=${__guard_okf[$key]-}
    n=${n//[!0-9]/}
    if [[ -z $n ]]; then
        n=$((++__guard_n))
        __guard_emit "__guard_n=$n"
    fi
    # `test ! ( W1 -nt STAMP -o W2 -nt STAMP … )` from an array: a builtin call on ready-made
    # words (the text cache and cache keys the trap cannot use, see __guard_fastfn).
    for w; do
        t+=("$w" -nt "$stamp" -o)
    done
    (($# > 0)) || t+=(-n x -o) # nothing to watch: always valid
    t[${#t[@]} - 1]=')'
    __guard_do "__guard_t$n=(${t[*]@Q})"
    __guard_do "__guard_okf[${key@Q}]=__guard_t${n}[@]"
    # Which hash-table entry this answer holds for; PATH-resolved answers hold for none.
    local h=
    [[ -n $__guard_kp ]] || for ((w = 0; w < ${#__guard_hq[@]}; w += 3)); do
        [[ ${__guard_hq[w + 1]} != "$word" ]] || h=${__guard_hq[w + 2]}
    done
    local fromp=0
    [[ -n $h ]] || fromp=1
    __guard_do "__guard_okh[${key@Q}]=${h@Q} __guard_okp[${key@Q}]=$fromp"
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
    [[ $- == *i* ]] || __guard_die
    __guard_emit '\builtin shopt -q extdebug || \builtin shopt -s extdebug'
    # Abort the rest of this command line (`blocked && deploy` must not deploy), until the
    # next prompt; only when our prompt hook is there to end it.
    [[ "${PROMPT_COMMAND[*]}" != *__guard_prompt* ]] || __guard_emit "__guard_abort=$__guard_hist"
    __guard_emit __guard_restate
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
        __guard_do __guard_reset
        return 0
        ;;
    esac
    return 1
}
