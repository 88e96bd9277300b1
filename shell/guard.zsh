# guard.zsh: check every command's file before zsh runs it. Docs: docs/shell-zsh.md.
#
# Load with `eval "$(guard hook zsh)"` or `source "$(guard hook --path zsh)"`; both prepend
# `__guard_bin=(/abs/python -I -m guard)`. Sourcing starts no process and no Python.
#
# How it works (zsh 5.9):
# - A list trap on DEBUG runs before every sublist (DEBUG_BEFORE_CMD, on by default), also in
#   functions, subshells, $( ), sourced files, eval, precmd hooks and widgets.
#   $ZSH_DEBUG_CMD is the whole sublist (`a && b | c`), re-printed by zsh from its parse
#   tree: aliases are already expanded and the layout is canonical.
# - To stop the command, the trap sets ERR_EXIT: zshoptions(1) says ERR_EXIT set on leaving a
#   DEBUG trap skips the command (zsh restores the option afterwards). The trap then does
#   `return 126`: at the prompt this abandons the rest of the line and sets $? to 126; inside
#   a function it returns 126 from it. Non-interactive shells exit 126 instead.
# - Hot path, no fork, no function call: a sublist made only of builtins is answered by the
#   trap's inline test; so is a sublist text recorded after a full check (__guard_record):
#   one `zstat` of its WATCH paths plus its hash-table entries must give the recorded text.
# - Full check (__guard_debug): an external command's cached `ok` stays valid while PATH is
#   unchanged, the shell's hash-table entry is unchanged, and every WATCH path has the same
#   inode and a ctime (zsh/stat) older than the answer's stamp.
# - Python (`guard _query`) runs only for words with no valid cached answer, once per sublist
#   (once per command-scoped PATH: `PATH=X cmd`, `env PATH=X cmd` are asked with PATH=X).
# - zsh runs no DEBUG trap inside trap handlers: `trap CMD SIG` and TRAPxxx bodies are checked
#   when they are set.

# Load once per shell; a second source only redefines the functions (harmless).
typeset -g __guard_loaded=${__guard_loaded-0}

# ---------------------------------------------------------------------------------------------
# Reply handler: the query prints `__guard_put WORD ACTION STAMP MESSAGE [WATCH...]` lines.
__guard_put() {
  emulate -L zsh
  local w=$1 act=$2 stamp=$3 msg=$4
  shift 4
  __guard_ract[$w]=$act
  __guard_rmsg[$w]=$msg
  [[ $act == ok && -n $stamp ]] || return 0
  (( __guard_has_stat )) || return 0
  local -a st ok miss ino ct
  local p
  builtin zstat -A st -F '%s%N' +mtime -- "$stamp" 2>/dev/null || return 0
  for p in "$@"; do
    if [[ -e $p ]]; then ok+=("$p"); else miss+=("$p"); fi
  done
  if (( $#ok )); then
    builtin zstat -A ino +inode -- "${ok[@]}" 2>/dev/null || return 0
    builtin zstat -A ct -F '%s%N' +ctime -- "${ok[@]}" 2>/dev/null || return 0
    # Changed since the stamp (i.e. maybe during the check): not cacheable.
    # (The newest ctime goes through a variable: inside (( )) the (On) flag is not applied.)
    local newest=${${(On)ct}[1]}
    (( newest < st[1] )) || return 0
  fi
  local k=${__guard_rkey[$w]-$w}
  __guard_cst[$k]=${st[1]}
  __guard_cpath[$k]=${(pj:\0:)ok}
  __guard_cino[$k]=${(j: :)ino}
  __guard_cmiss[$k]=${(pj:\0:)miss}
  __guard_chash[$k]=${__guard_rhash[$w]-}
  __guard_rput[$w]=1
}

__guard_flush() {
  __guard_cst=() __guard_cpath=() __guard_cino=() __guard_cmiss=() __guard_chash=()
  __guard_xw=() __guard_xv=() __guard_xn=() __guard_xe=()
}

# ---------------------------------------------------------------------------------------------
# The inline external test. After a sublist passed the full check with only plain words (no
# function, no variable, no relative lookup) whose cached `ok` answers were all valid, its text
# is remembered with its WATCH paths (__guard_xw), their ctime seconds and inodes (__guard_xv;
# every other field changes ctime when it changes) and the names whose hash-table entries it
# depends on (__guard_xn, __guard_xe). The trap then lets the same text run while PATH is the
# same string and two `zstat`s of the paths plus those entries give exactly the remembered
# text: no function call.
# The record must prove itself, since the trap compares whole seconds: (a) each path's ctime
# second ended at least 50 ms before the record was taken (the kernel stamps changes with a
# coarse clock that may lag by a tick), so any later change gets a later ctime second; (b) the
# inode is the answered one; (c) ctime is older than the answer's stamp, i.e. nothing changed
# since guard verified it (whole seconds, or nanoseconds read after the record for a ctime in
# the stamp's own second: ctime only grows, so the record saw that same state). A path
# changed too recently just leaves the text to the full check, which records it later.
# Called from __guard_debug (its locals fk: cache keys, fh: names looked up in $commands).
__guard_record() {
  local cmd=$1 k p m hx= x now
  local -i i j b late=0
  local -a P snap sp ino ct
  local -A at
  for k in "${fk[@]}"; do
    [[ -z ${__guard_cmiss[$k]-} && -n ${__guard_cpath[$k]-} ]] || return 0
    for p in "${(@ps:\0:)__guard_cpath[$k]}"; do
      (( ${+at[$p]} )) || { P+=("$p"); at[$p]=$#P; }
    done
  done
  now=${(%):-%D{%s%.}}  # epoch milliseconds, read before the record
  [[ $now == <-> ]] || return 0
  builtin zstat -A snap -- "${P[@]}" 2>/dev/null || return 0
  (( $#snap == 14 * $#P )) || return 0  # 14 fields per file (zsh/stat, no -L)
  for k in "${fk[@]}"; do
    sp=("${(@ps:\0:)__guard_cpath[$k]}")
    ino=(${(s: :)__guard_cino[$k]})
    (( $#ino == $#sp )) || return 0
    b=${__guard_cst[$k][1,-10]}
    for (( j = 1; j <= $#sp; j++ )); do
      x=${at[${sp[j]}]}
      i=$(( (x - 1) * 14 ))
      m=${snap[i+11]}
      (( (m + 1) * 1000 + 50 <= now )) && [[ ${snap[i+2]} == "${ino[j]}" ]] || return 0
      (( m < b )) || late=1
    done
  done
  if (( late )); then
    for k in "${fk[@]}"; do
      builtin zstat -A ct -F '%s%N' +ctime -- "${(@ps:\0:)__guard_cpath[$k]}" 2>/dev/null ||
        return 0
      m=${${(On)ct}[1]} x=${__guard_cst[$k]}
      (( m < x )) || return 0
    done
  fi
  # The hash-table entries: the first name through (P), any others through (e) (the names
  # are plain words, so the expression is only `${(q)commands[NAME]-}` lookups).
  (( ${#__guard_xw} > 4000 )) && __guard_xw=()
  __guard_xn[$cmd]=${fh[1]+commands[${fh[1]}]}
  for p in "${(@)fh[2,-1]}"; do
    hx+=" \${(q)commands[$p]-}"
  done
  __guard_xe[$cmd]=$hx
  # What the trap's two `zstat`s give (every ctime, then every inode), then the entries.
  ct=() ino=()
  for (( j = 0; j < $#P; j++ )); do
    ct+=("${snap[j*14+11]}") ino+=("${snap[j*14+2]}")
  done
  __guard_xv[$cmd]="${(j: :)ct} ${(j: :)ino} ${(qP)__guard_xn[$cmd]-}${__guard_xe[$cmd]:+${(e)__guard_xe[$cmd]}}"
  __guard_xw[$cmd]=${(pj:\0:)P}
}

# `disable`, `enable` or `zmodload` may turn a builtin into an external command: forget every
# answer that relied on a name being a builtin; the table is rebuilt at the next full check.
__guard_unfast() {
  __guard_fast=() __guard_memo=() __guard_xw=()
  __guard_fastdirty=1
}

# Builtins that run nothing themselves: the trap's inline test lets them through unparsed.
__guard_mkfast() {
  local b
  __guard_fast=()
  for b in ${(k)builtins}; do __guard_fast[$b]=1; done
  for b in command exec builtin eval source . noglob nocorrect - emulate fc r sched zpty \
    coproc trap autoload functions zle zmodload enable disable hash rehash unhash alias \
    unalias setopt unsetopt set typeset local declare export readonly integer float \
    unfunction exit return logout bye ttyctl; do
    unset "__guard_fast[$b]"
  done
  __guard_fast[\[\[]=1
  __guard_fastdirty=0
}

# ---------------------------------------------------------------------------------------------
# Parser: append the command words of sublist text $1 to __guard_out as KIND:WORD.
# KIND c: zsh looks it up (function, builtin, hash table, PATH); e: `command`/`exec` (no
# function); p: another program execs it from PATH (env, sudo, xargs, nohup, nice, timeout,
# stdbuf, doas); b: `builtin` (only a builtin can run). Bodies of if/while/until/for/case/
# select/repeat and function definitions are not collected: zsh fires the DEBUG trap for each
# sublist inside them when (and only when) they run. { } and ( ) groups and $( ), ` `, <( ),
# >( ), =( ) in words are collected too, so a non-interactive shell stops before it starts a
# subshell (the subshell's own trap is the backstop).
__guard_parse() {
  emulate -L zsh
  setopt extendedglob
  local -a t stack heredoc
  t=("${(@z)1}")
  local n=$#t i=0 tok state=C kind=c wrap= wskip=0 skipd=0 fdef=0 top= d= bare= scope= trapc=0
  local redir='(<|>|<<|>>|<>|>&|<&|&>|&>>|>>&|<<-|<<<|>\||>!|>>\||>>!|&>\||&>!|>&\||>&!|>>&\||>>&!|&>>\||&>>!)'
  while (( ++i <= n )); do
    tok=${t[i]}
    # Heredoc bodies follow the line that opened them (zsh prints them after it).
    if [[ $tok == ';' ]] && (( $#heredoc )); then
      for d in "${heredoc[@]}"; do
        while (( ++i <= n )) && [[ ${t[i]} != "$d" ]]; do :; done
      done
      heredoc=()
      state=C kind=c wrap=
      [[ -n $scope ]] && { scope= __guard_out+=('=:'); }
      continue
    fi
    # Substitutions run as part of this sublist: collect their commands too (looked up with
    # the shell's PATH, not a command-scoped one).
    if (( ! skipd )) && [[ $tok == *('$('|'`'|'<('|'>('|'=(')* ]]; then
      [[ -n $scope ]] && __guard_out+=('=:')
      __guard_subst "$tok"
      [[ -n $scope ]] && __guard_out+=("=:$scope")
    fi
    if [[ $state == X ]]; then  # inside [[ ]] (&& and || too): only look for the end
      [[ $tok == ']]' ]] && state=A
      continue
    fi
    case $tok in
      ('&&'|'||'|'|'|'|&'|';'|'&'|'&|'|'&!'|';;'|';&'|';|')
        state=C kind=c wrap= wskip=0
        [[ -n $scope ]] && { scope= __guard_out+=('=:'); }
        continue ;;
    esac
    if [[ $state == R ]]; then state=$top; continue; fi
    if [[ $tok == ([0-9]##|)${~redir} ]]; then
      [[ $tok == *'<<'(|-) ]] && (( i < n )) && heredoc+=("${(Q)t[i+1]}")
      top=$state state=R
      continue
    fi
    if [[ $tok == '{'[[:alpha:]_][[:alnum:]_]#'}' && ${t[i+1]-} == ([0-9]##|)${~redir} ]]; then
      continue  # {fd}>file
    fi
    if [[ $state == H ]]; then  # for/select/repeat/case header
      case $tok in
        (do) state=C ;;
        (in) [[ ${stack[-1]-} == esacs ]] && state=C ;;
      esac
      continue
    fi
    if [[ $state == A ]]; then  # arguments of a simple command
      case $tok in
        ('}'|')') ;;  # fall through to the closer handling below
        (always) [[ ${t[i-1]} == '}' ]] && state=C; continue ;;
        (*)
          # `trap CMD SIG`: zsh runs no DEBUG trap inside a trap, so CMD is checked now.
          if (( trapc )) && [[ ${(Q)tok} != (--|-[lp]##) ]]; then
            trapc=0  # (`trap - SIG` resets it)
            (( skipd )) || [[ ${(Q)tok} == - ]] || __guard_parse "${(Q)tok}"
          fi
          continue ;;
      esac
    fi
    # state C: command position
    case $tok in
      ('!'|time|nocorrect|noglob|coproc|then|else|elif|do|'-') state=C; continue ;;
      ('{')
        # A function body runs later (the trap fires inside it): skipped, except a TRAPxxx
        # function's, which runs as a trap, where zsh runs no DEBUG trap: checked now.
        if (( fdef == 1 )); then stack+=('}f'); (( ++skipd )); else stack+=('}'); fi
        fdef=0
        state=C
        continue ;;
      ('(') stack+=(')'); continue ;;
      ('}'|')'|fi|done|esac|']]')
        if [[ ${stack[-1]-} == ${tok}(|f|s) ]]; then
          [[ ${stack[-1]} == *[fs] || $tok == (fi|done|esac) ]] && (( --skipd ))
          stack[-1]=()
          state=A
          [[ ${stack[-1]-} == esacs ]] && state=C
        fi
        continue ;;
      (if) stack+=(fis); (( ++skipd )); continue ;;
      (while|until) stack+=(dones); (( ++skipd )); continue ;;
      (for|foreach|select|repeat) stack+=(dones); (( ++skipd )); state=H; continue ;;
      (case) stack+=(esacs); (( ++skipd )); state=H; continue ;;
      ('[[') state=X; continue ;;
      ('(('*) state=A; continue ;;
      ('()') (( fdef )) || fdef=1; continue ;;  # anonymous function: runs later, trap fires inside
      (function) fdef=1; state=F; continue ;;
    esac
    if [[ $state == F ]]; then  # `function name...` until its {
      [[ $tok == TRAP[A-Z]## ]] && fdef=2
      continue
    fi
    if [[ ${t[i+1]-} == '()' ]]; then  # name () { ... }
      fdef=1
      [[ $tok == TRAP[A-Z]## ]] && fdef=2
      continue
    fi
    # Assignments before the command word. A PATH/path one scopes the lookup of the words
    # that follow (zsh searches the new PATH, wrappers inherit it): emitted as `=:SPEC` (see
    # __guard_scope); `=:` ends the scope.
    if [[ -z $wrap && $tok == [[:alpha:]_][[:alnum:]_]#(\[*\])#(+|)=* ]]; then
      d=
      if [[ $tok == *'=(' ]]; then
        while (( ++i <= n )) && [[ ${t[i]} != ')' ]]; do d+=" ${t[i]}"; done
        [[ $tok == path(+|)'=(' ]] && { scope="A${tok[5]%=}:$d"; __guard_out+=("=:$scope"); }
      elif [[ $tok == (PATH|path)(+|)=* ]]; then
        scope="${tok[1]}${tok[5]%=}:${tok#*=}"
        __guard_out+=("=:$scope")
      fi
      continue
    fi
    # Options and operands of a wrapper before the wrapped command.
    if [[ -n $wrap ]]; then
      if [[ $wrap == env ]]; then  # env -i, -u PATH, PATH=...: the wrapped command's PATH
        d=${(Q)tok}
        if [[ $d == PATH=* ]]; then scope="E:$tok"
        elif [[ $d == (-|-[0v]#i[i0v]#|--ignore-environment|-uPATH|--unset=PATH) ]] ||
          [[ $d == (-u|--unset) && ${(Q)t[i+1]-} == PATH ]]; then scope=D:
        else d=
        fi
        [[ -n $d ]] && __guard_out+=("=:$scope")
      fi
      if (( wskip > 0 )); then (( wskip-- )); continue; fi
      if __guard_wrapopt "$wrap" "$tok"; then continue; fi
      case $REPLY in
        (stop) state=A wrap=; continue ;;
        (skip1) wskip=1; continue ;;
      esac
    fi
    (( skipd )) || __guard_out+=("$kind:$tok")
    # Is this word itself a wrapper?
    bare=${(Q)tok}
    bare=${bare#\\}
    wrap= kind=p state=C
    case $bare in
      (command) wrap=command kind=e ;;
      (exec) wrap=exec kind=e ;;
      (builtin) wrap=builtin kind=b ;;
      (noglob|nocorrect|-) kind=c state=C ;;
      (nohup|nice|env|sudo|doas|xargs|timeout|stdbuf) wrap=$bare ;;
      (*) state=A kind=c ;;
    esac
    [[ $bare == trap && $kind == c ]] && trapc=1
    [[ $wrap == timeout ]] && __guard_tdur=1
  done
  [[ -n $scope ]] && __guard_out+=('=:')
}

# Wrapper option handling. Return 0: TOKEN is consumed (an option, an operand, VAR=value).
# Return 1 with REPLY: `cmd` (TOKEN is the wrapped command), `stop` (nothing runs), `skip1`
# (TOKEN is an option whose value is the next token).
__guard_wrapopt() {
  local w=$1 o=${(Q)2}
  REPLY=cmd
  if [[ $o == -- ]]; then return 0; fi
  case $w in
    (command)
      [[ $o == -[pvV]## ]] || return 1
      [[ $o == *[vV]* ]] && { REPLY=stop; return 1 }
      return 0 ;;
    (exec)
      [[ $o == -a ]] && { REPLY=skip1; return 1 }
      [[ $o == -[cl]## ]] && return 0
      return 1 ;;
    (builtin|nohup) return 1 ;;
    (nice)
      [[ $o == -n ]] && { REPLY=skip1; return 1 }
      [[ $o == (-n*|-[0-9]*|--adjustment=*) ]] && return 0
      return 1 ;;
    (env)
      [[ $o == (-u|-C|--unset|--chdir) ]] && { REPLY=skip1; return 1 }
      [[ $o == (-|-[i0v]##|-u?*|-C?*|--unset=*|--chdir=*|--ignore-environment|--null|--debug) ]] && return 0
      [[ $o == [[:alpha:]_][[:alnum:]_]#=* ]] && return 0
      return 1 ;;
    (sudo)
      [[ $o == -[ugCDhprtTUR] ]] && { REPLY=skip1; return 1 }
      [[ $o == -[eK]* || $o == --edit ]] && { REPLY=stop; return 1 }
      [[ $o == -* ]] && return 0
      [[ $o == [[:alpha:]_][[:alnum:]_]#=* ]] && return 0
      return 1 ;;
    (doas)
      [[ $o == -[uC] ]] && { REPLY=skip1; return 1 }
      [[ $o == -* ]] && return 0
      return 1 ;;
    (xargs)
      [[ $o == -[adEILnPs] ]] && { REPLY=skip1; return 1 }
      [[ $o == -* ]] && return 0
      return 1 ;;
    (timeout)
      [[ $o == -[sk] ]] && { REPLY=skip1; return 1 }
      [[ $o == -* ]] && return 0
      if (( __guard_tdur )); then __guard_tdur=0; return 0; fi  # the DURATION
      return 1 ;;
    (stdbuf)
      [[ $o == -[ioe] ]] && { REPLY=skip1; return 1 }
      [[ $o == -* ]] && return 0
      return 1 ;;
  esac
  return 1
}

# Collect the commands inside $( ), ` `, <( ), >( ), =( ) of one word.
__guard_subst() {
  emulate -L zsh
  local s=$1 c q= iq=
  local -i i=1 n=${#1} depth start
  while (( i <= n )); do
    c=${s[i]}
    if [[ $q == "'" ]]; then [[ $c == "'" ]] && q=; (( i++ )); continue; fi
    if [[ $q == e ]]; then  # $'...': a backslash escapes the next character, ' ends it
      if [[ $c == '\' ]]; then (( i += 2 )); continue; fi
      [[ $c == "'" ]] && q=
      (( i++ ))
      continue
    fi
    if [[ $c == '\' ]]; then (( i += 2 )); continue; fi
    if [[ -z $q ]]; then
      if [[ $c == '$' && ${s[i+1]-} == "'" ]]; then q=e; (( i += 2 )); continue; fi
      if [[ $c == "'" ]]; then q="'"; (( i++ )); continue; fi
      if [[ $c == '"' ]]; then q='"'; (( i++ )); continue; fi  # ' is literal in "..."
    elif [[ $c == '"' ]]; then
      q=
      (( i++ ))
      continue
    fi
    if [[ $c == '`' ]]; then
      start=$(( i + 1 ))
      (( i++ ))
      while (( i <= n )) && [[ ${s[i]} != '`' ]]; do [[ ${s[i]} == '\' ]] && (( i++ )); (( i++ )); done
      __guard_parse "${s[start,i-1]}"
      (( i++ ))
      continue
    fi
    if [[ $c == [\$\<\>=] && ${s[i+1]} == '(' && ${s[i+2]} != '(' ]]; then
      start=$(( i + 2 )) depth=1 i=$(( i + 2 )) iq=
      while (( i <= n )); do
        c=${s[i]}
        if [[ -n $iq ]]; then
          [[ $c == '\' && $iq == '"' ]] && (( i++ ))
          [[ $c == $iq ]] && iq=
        elif [[ $c == '\' ]]; then (( i++ ))
        elif [[ $c == [\"\'] ]]; then iq=$c
        elif [[ $c == '(' ]]; then (( depth++ ))
        elif [[ $c == ')' ]]; then (( --depth == 0 )) && break
        fi
        (( i++ ))
      done
      __guard_parse "${s[start,i-1]}"
    fi
    (( i++ ))
  done
}

# A command-scoped PATH: REPLY is the PATH that SPEC (from __guard_parse) gives the command.
# SPEC is TYPE:RAW with RAW the shell text: P `PATH=RAW`, p `path=RAW`, A `path=(RAW)` (a `+`
# after the type: `+=`), E `env RAW` (an argument: no tilde after `=`/`:`), D `env -i` or
# `env -u PATH` (PATH unset: GNU env execvp()s with glibc's default, /bin:/usr/bin).
# RAW is evaluated only when it is static: literal text, quotes, `~`, plain `$NAME`/`${NAME}`
# (modifiers such as `:h` included: they read, never run anything). Status 1: it is not.
__guard_scope() {
  local t=${1%%:*} raw=${1#*:} nm='[[:alpha:]_][[:alnum:]_]#'
  local -a reply
  REPLY=
  if [[ $t == D ]]; then REPLY=/bin:/usr/bin; return 0; fi
  # No $( ), ` `, $[ ], $(( )), ${...} beyond a name, subscripts, globs or backslashes.
  [[ $raw == ("'"[^\']#"'"|'"'([^\"\$\`\\\[\]\{\}\*\?]|'$'$~nm|'${'$~nm'}')#'"'|[^\'\"\$\`\\\(\)\<\>\;\&\|\{\}\[\]\*\?\#\^]|'$'$~nm|'${'$~nm'}')# ]] ||
    return 1
  case $t in
    (P|p) { builtin eval "REPLY=$raw" } 2>/dev/null || return 1 ;;
    (E|A)
      { builtin eval "reply=( $raw )" } 2>/dev/null || return 1
      if [[ $t == E ]]; then
        (( $#reply == 1 )) || return 1
        REPLY=${reply[1]#PATH=}
      else
        REPLY=${(j.:.)reply}
      fi ;;
    (*+)
      __guard_scope "${t%+}:$raw" || return 1
      if [[ $t == P+ ]]; then REPLY=$PATH$REPLY; else REPLY=$PATH${PATH:+:}$REPLY; fi ;;
    (*) return 1 ;;
  esac
  return 0
}

# ---------------------------------------------------------------------------------------------
# Resolve a command word as the shell will: REPLY is the name or path. Status 0: resolved;
# 1: dynamic, cannot be known before it runs; 2: runs nothing.
__guard_resolve() {
  local w=$1
  shift
  local -a __guard_args
  __guard_args=("$@")
  REPLY=
  if (( ${+builtins[$w]} || ${+functions[$w]} )); then REPLY=$w; return 0; fi
  if [[ $w != *[\$\`\*\?\[\{]* && $w != ('~'*|'='*) ]]; then
    REPLY=${(Q)w}
    return 0
  fi
  # Plain variables: $X ${X} "$X" "${X}" "$@" "${a[@]}" $1
  local name quoted=0
  if [[ $w == '"'*'"' ]]; then quoted=1 w=${w[2,-2]}; fi
  if [[ $w == '$'([[:alpha:]_][[:alnum:]_]#|[0-9]##|'@'|'*') ]]; then
    name=${w[2,-1]}
  elif [[ $w == '${'([[:alpha:]_][[:alnum:]_]#|[0-9]##|'@'|'*')(|'[@]'|'[*]')'}' ]]; then
    name=${${w[3,-2]}%\[?\]}
  elif [[ $w == '~'* && $w != *[\$\`\*\?\[\{]* ]]; then
    local head=${${w%%/*}#\~} tail=
    [[ $w == */* ]] && tail=/${w#*/}
    if [[ -z $head ]]; then REPLY=$HOME$tail; return 0; fi
    if [[ -n ${nameddirs[$head]-} ]]; then REPLY=${nameddirs[$head]}$tail; return 0; fi
    if [[ -n ${userdirs[$head]-} ]]; then REPLY=${userdirs[$head]}$tail; return 0; fi
    return 1
  elif [[ $w == '='[^/]## && $w != *[\$\`\*\?\[\{]* ]]; then
    REPLY=${commands[${(Q)w[2,-1]}]-}
    [[ -n $REPLY ]] && return 0
    return 1
  else
    return 1
  fi
  local -a v
  if [[ $name == [0-9]## ]]; then
    v=("${(@)__guard_args[name]}")
    (( name == 0 )) && return 1
  elif [[ $name == [@*] ]]; then
    v=("${__guard_args[@]}")
  elif (( ${+parameters[$name]} )); then
    v=("${(@P)name}")
  else
    v=()
  fi
  if (( __guard_sws && ! quoted )); then v=(${=v}); fi
  (( quoted )) || v=(${v:#})
  if (( ! $#v )); then
    (( quoted )) && [[ $name != [@*] ]] && return 2  # "" : command not found, nothing runs
    [[ $name == [@*] ]] && return 2
    return 1  # unquoted empty: the next word would run; we cannot tell which
  fi
  REPLY=${v[1]}
  return 0
}

# ---------------------------------------------------------------------------------------------
# The check, called from the DEBUG trap with the caller's positional parameters.
# Status 0: run it; 1: block it (the trap skips it).
__guard_debug() {
  local sws=${options[shwordsplit]-off} posb=${options[posixbuiltins]-off}
  emulate -L zsh
  (( __guard_fastdirty )) && __guard_mkfast
  local cmd=$ZSH_DEBUG_CMD ent kind w word key h m allbuiltin=1 fast=$__guard_has_stat
  local scope= sp=
  local -a __guard_out ask askk askh askg dyn dynp ps ct fk fh
  local -i __guard_sws=0 __guard_tdur=0 st sps=0
  if (( ${+__guard_pm[$cmd]} )); then
    [[ -n ${__guard_pm[$cmd]} ]] && __guard_out=("${(@ps:\0:)__guard_pm[$cmd]}")
  else
    setopt extendedglob
    __guard_parse "$cmd"
    unsetopt extendedglob
    (( ${#__guard_pm} > 4000 )) && __guard_pm=()
    __guard_pm[$cmd]=${(pj:\0:)__guard_out}
  fi
  if [[ $PATH != "$__guard_path" ]]; then
    __guard_flush
    __guard_path=$PATH __guard_relpath=0
    [[ :$PATH: == *:[^/]* ]] && __guard_relpath=1
  fi
  for ent in "${__guard_out[@]}"; do
    kind=${ent[1]} w=${ent[3,-1]}
    if [[ $kind == '=' ]]; then scope=$w sps=0; continue; fi  # a command-scoped PATH
    if [[ $kind == b ]]; then
      [[ ${${(Q)w}#\\} == (disable|enable|zmodload) ]] && { __guard_unfast; allbuiltin=0 fast=0; }
      continue
    fi
    # Hot path: a plain word needs no expansion.
    if [[ $w != *[^[:alnum:]/._+-]* && $w != [=~]* ]]; then
      word=$w
    else
      fast=0
      [[ $sws == on ]] && __guard_sws=1
      setopt extendedglob
      __guard_resolve "$w" "$@"; st=$?
      unsetopt extendedglob
      (( st == 2 )) && continue
      if (( st == 1 )); then allbuiltin=0; dyn+=("$w"); continue; fi
      word=$REPLY
      [[ $word == "$w" ]] || allbuiltin=0
    fi
    [[ $word == (disable|enable|zmodload) ]] && { __guard_unfast; allbuiltin=0 fast=0; }
    if [[ $word != */* ]]; then
      if [[ $kind == c ]]; then
        (( ${+builtins[$word]} )) && continue
        (( ${+functions[$word]} )) && { allbuiltin=0 fast=0; continue; }
      elif [[ $kind == e ]] && (( ${+builtins[$word]} )); then
        fast=0  # builtin or not depends on POSIX_BUILTINS when it runs
        [[ $posb == on || $word == (command|exec|builtin) ]] && continue
      fi
    fi
    allbuiltin=0
    [[ -n $word ]] || { fast=0; continue; }
    # The cache key: relative lookups depend on the directory.
    key=$word h=
    if [[ -n $scope ]]; then
      # A command-scoped PATH: zsh (and a wrapper's execvp) search it, not the hash table.
      # Asked with that PATH; cached under a key holding it (it may hold "$PWD"-relative dirs).
      if (( ! sps )); then
        setopt extendedglob
        __guard_scope "$scope" && sps=1 || sps=2
        unsetopt extendedglob
        sp=$REPLY
      fi
      (( sps == 2 )) && { dynp+=("$w"); continue; }
      [[ $word == /* ]] || [[ $word != */* && :$sp: != *:[^/]* ]] || key=$PWD//$word
      key=$'\0'$sp$'\0'$key
    elif [[ $word == */* ]]; then
      [[ $word == /* ]] || key=$PWD/$word
    else
      (( __guard_relpath )) && key=$PWD//$word
      [[ $kind == p ]] || { h=${commands[$word]-}; fh+=("$word"); }
    fi
    [[ $key == "$word" ]] || fast=0
    fk+=("$key")
    # Valid cached `ok`? Same hash-table entry, same inodes, nothing changed since the stamp,
    # and every path that was missing is still missing.
    if (( ${+__guard_cst[$key]} )) && [[ ${__guard_chash[$key]} == "$h" ]]; then
      st=1
      if [[ -n ${__guard_cpath[$key]} ]]; then
        ps=("${(@ps:\0:)__guard_cpath[$key]}")
        builtin zstat -A ct +inode -- "${ps[@]}" 2>/dev/null &&
          [[ "${ct[*]}" == "${__guard_cino[$key]}" ]] &&
          builtin zstat -A ct +ctime -- "${ps[@]}" 2>/dev/null || st=0
        if (( st )); then
          # Whole seconds first; a ctime in the stamp's own second needs nanoseconds.
          m=${${(On)ct}[1]}
          if (( m >= ${__guard_cst[$key][1,-10]} )); then
            builtin zstat -A ct -F '%s%N' +ctime -- "${ps[@]}" 2>/dev/null || st=0
            m=${${(On)ct}[1]}
            # ${...}: a bare name[$key] in (( )) would evaluate $(...) in the key ($PWD).
            (( st && m < ${__guard_cst[$key]} )) || st=0
          fi
        fi
      fi
      if (( st )) && [[ -n ${__guard_cmiss[$key]} ]]; then
        for m in "${(@ps:\0:)__guard_cmiss[$key]}"; do
          [[ -e $m || -L $m ]] && { st=0; break; }
        done
      fi
      (( st )) && continue
    fi
    ask+=("$word") askk+=("$key") askh+=("$h")
    if [[ -n $scope ]]; then askg+=("=$sp"); else askg+=(-); fi
  done
  fh=("${(@u)fh}")
  # Only builtins and syntax: the trap's inline test answers this text from now on.
  if (( allbuiltin )); then
    (( ${#__guard_memo} > 4000 )) && __guard_memo=()
    __guard_memo[$cmd]=1
  fi
  local rc=0 mode
  local interactive=0
  [[ -o interactive ]] && interactive=1
  local -a q
  q=(_query --shell zsh --want-mode)
  (( interactive )) && q+=(--interactive)
  # A command word whose value only exists once it runs ($(...), `...`, globs, ...), or a
  # command-scoped PATH whose value does: decided here, with the mode guard last reported.
  if (( $#dyn || $#dynp )); then
    __guard_curmode || { __guard_ask "$PATH" && __guard_curmode; }
    mode=$REPLY
  fi
  for w in "${dyn[@]}"; do
    case $mode in
      (monitor) ;;
      (warn) print -ru2 -- "guard: warning: would block dynamic command word ${(q+)w}: it cannot be checked before it runs" ;;
      (*) print -ru2 -- "guard: blocked dynamic command word ${(q+)w}: it cannot be checked before it runs; use a plain name or path"
          rc=1 ;;
    esac
  done
  for w in "${dynp[@]}"; do
    case $mode in
      (monitor) ;;
      (warn) print -ru2 -- "guard: warning: would block ${(q+)w}: its command-scoped PATH cannot be known before it runs" ;;
      (*) print -ru2 -- "guard: blocked ${(q+)w}: its command-scoped PATH cannot be known before it runs; use literal text or plain \$NAME in PATH=..."
          rc=1 ;;
    esac
  done
  (( rc )) && { __guard_deny; return 1; }
  if (( ! $#ask )); then
    (( fast && ! $#dyn && $#fk )) && __guard_record "$cmd"
    return 0
  fi
  # Ask Python once for every uncached word of this sublist (once per command-scoped PATH).
  local g gp act msg
  local -a hashed words
  local -A __guard_rkey __guard_rhash __guard_ract __guard_rmsg __guard_rput
  for g in "${(@u)askg}"; do
    __guard_rkey=() __guard_rhash=() __guard_ract=() __guard_rmsg=() __guard_rput=()
    hashed=() words=()
    for (( st = 1; st <= $#ask; st++ )); do
      [[ ${askg[st]} == "$g" ]] || continue
      words+=("${ask[st]}")
      __guard_rkey[${ask[st]}]=${askk[st]}
      __guard_rhash[${ask[st]}]=${askh[st]}
      [[ -n ${askh[st]} ]] && hashed+=(--hashed "${ask[st]}" "${askh[st]}")
    done
    words=("${(@u)words}")
    gp=$PATH
    [[ $g == '='* ]] && gp=${g#=}
    __guard_ask "$gp" "${hashed[@]}" -- "${words[@]}" || return $?
    for w in "${words[@]}"; do
      act=${__guard_ract[$w]-} msg=${__guard_rmsg[$w]-}
      (( ${+__guard_rput[$w]} )) || fast=0  # answered but not cached
      case $act in
        (ok|monitor) ;;
        (warn) print -ru2 -- "$msg" ;;
        (ask)
          print -ru2 -- "$msg"
          if (( interactive && ! ${+WIDGET} )) && [[ -t 2 ]] && __guard_yes; then
            print -u2
            PATH=$gp "${__guard_bin[@]}" trust -- "$w" || rc=1
          else
            print -u2
            rc=1
          fi ;;
        (block) print -ru2 -- "$msg"; rc=1 ;;
        (*) __guard_unavailable 2; return $? ;;
      esac
    done
  done
  (( rc )) && { __guard_deny; return 1; }
  (( fast && ! $#dyn && $#fk )) && __guard_record "$cmd"
  return 0
}

# One `guard _query` (arguments after PATH: q's options, then -- WORDS), run with PATH=$1 and
# GUARD_MODE as the shell sees them; its reply is eval'd (__guard_put, __guard_mode). Called
# from __guard_debug (its locals q, interactive). Status: 0, or __guard_unavailable's.
__guard_ask() {
  local p=$1 out
  local -i qs
  shift
  if (( ${+__guard_bin} )) && [[ -x ${__guard_bin[1]-} ]]; then
    # In the subshell only: export PATH and GUARD_MODE.
    out=$(builtin export PATH=$p; (( ${+GUARD_MODE} )) && builtin export GUARD_MODE
      (( __guard_warned )) && builtin exec 2>/dev/null
      builtin exec "${__guard_bin[@]}" "${q[@]}" "$@"); qs=$?
  else
    qs=127
  fi
  if (( qs == 0 )) && [[ -n $out ]]; then
    { builtin eval "$out" } 2>/dev/null || qs=2
  fi
  (( qs == 0 )) || { __guard_unavailable $qs; return $?; }
}

# The reply's first line (`--want-mode`): the effective mode, from config.yaml, GUARD_MODE and
# the system policy's floor, as guard saw it with this GUARD_MODE.
__guard_mode() {
  [[ $1 == (block|warn|monitor) ]] && __guard_gmode=$1 || __guard_gmode=block
  __guard_gmode_env=${+GUARD_MODE}:${GUARD_MODE-}
}

# REPLY: the mode for the hook's own decisions — the one guard last reported, while GUARD_MODE
# is what it was then. Status 1 (REPLY from GUARD_MODE alone) when there is none.
__guard_curmode() {
  if [[ -n $__guard_gmode && $__guard_gmode_env == "${+GUARD_MODE}:${GUARD_MODE-}" ]]; then
    REPLY=$__guard_gmode
    return 0
  fi
  REPLY=${GUARD_MODE:-block}
  return 1
}

# `trust and run? [y/N]` on the terminal (/dev/tty, else a terminal on stdin). Only y/Y is yes.
__guard_yes() {
  if { : </dev/tty } 2>/dev/null; then
    builtin read -q "?trust and run? [y/N] " </dev/tty 2>/dev/tty
  elif [[ -t 0 ]]; then
    builtin read -q "?trust and run? [y/N] "
  else
    return 1
  fi
}

# A blocked command: a non-interactive shell stops with 126 (zsh would run the next line).
__guard_deny() {
  [[ -o interactive ]] || builtin exit 126
}

# guard did not answer (missing, broken Python, unreadable allowlist). Interactive shells
# keep working and warn once per prompt; scripts fail closed unless GUARD_MODE says otherwise.
__guard_unavailable() {
  local why="exit status $1"
  (( $1 == 127 )) && why="guard is not installed where the hook expects it"
  if [[ -o interactive ]]; then
    if (( ! __guard_warned )); then
      print -ru2 -- "guard: cannot check commands ($why); running them unchecked"
      __guard_warned=1
    fi
    return 0
  fi
  __guard_curmode
  case $REPLY in
    (warn) print -ru2 -- "guard: cannot check commands ($why); running unchecked"; return 0 ;;
    (monitor) return 0 ;;
  esac
  print -ru2 -- "guard: cannot check commands ($why); stopping (set GUARD_MODE=warn to run anyway)"
  builtin exit 126
}

__guard_precmd() { __guard_warned=0 }

# ---------------------------------------------------------------------------------------------
() {
  emulate -L zsh
  zmodload zsh/parameter 2>/dev/null
  typeset -gi __guard_has_stat=0 __guard_warned=0 __guard_relpath=0
  zmodload -F zsh/stat b:zstat 2>/dev/null && __guard_has_stat=1
  typeset -gA __guard_pm __guard_memo __guard_cst __guard_cpath __guard_cino __guard_cmiss \
    __guard_chash __guard_fast __guard_xw __guard_xv __guard_xn __guard_xe
  typeset -ga __guard_s __guard_t
  typeset -gi __guard_fastdirty=0
  typeset -g __guard_path=$PATH __guard_gmode=${__guard_gmode-} __guard_gmode_env=${__guard_gmode_env-}
  __guard_mkfast
  if (( ! __guard_loaded )); then
    __guard_loaded=1
    (( ${precmd_functions[(I)__guard_precmd]} )) || precmd_functions+=(__guard_precmd)
    # Keep a DEBUG trap that is already set: run it first, as it ran before.
    local prev=
    if (( ${+functions[TRAPDEBUG]} )); then
      functions[__guard_prev_debug]=$functions[TRAPDEBUG]
      prev='__guard_prev_debug "$@"; '
    else
      local line
      for line in ${(f)"$(builtin trap 2>/dev/null)"}; do
        if [[ $line == 'trap -- '*' DEBUG' ]]; then
          typeset -g __guard_prev_trap=${(Q)${${line#trap -- }% DEBUG}}
          prev='builtin eval "$__guard_prev_trap"; '
        fi
      done
    fi
    setopt nolocaltraps  # emulate -L set LOCAL_TRAPS: the trap must outlive this function
    # The inline part is the hot path: no function call, no option change. It runs in the
    # user's context with the user's options, so it uses only option-independent forms
    # (basic patterns, `${name[key]-}`, `[@]` on arrays for KSH_ARRAYS). In order:
    # 1. a sublist with no | & ; ( ) { } ` or newline whose first word is a builtin that runs
    #    nothing, or `[[` (__guard_fast, emptied by __guard_unfast when that may change);
    # 2. a sublist text recorded by __guard_record whose WATCH paths still give the recorded
    #    ctime seconds and inodes (two `zstat`s, no fork; `2>&-` rather than `2>/dev/null`: a
    #    vanished path fails silently with fewer system calls) and whose hash-table entries
    #    expand to the recorded text;
    # 3. a lone NAME=value with no space or such character in the value;
    # 4. a sublist text already seen to hold only builtins;
    # else the full check, __guard_debug.
    # Why this order and this little: what an external command pays for the trap is mostly
    # copy-on-write page faults after its fork, one per page the trap wrote since the last
    # fork (~2.5 us each on a VM), and every pattern, subscript, builtin and array written
    # here touches its own pages. Test 1 is nearly free for an external command; the tests of
    # 3 and 4 (two patterns and a lookup) cost it ~5 faults, so they come after 2; a builtin
    # pays one lookup more for it (measured: docs/shell-zsh.md, "The hot path").
    builtin trap "${prev}"'[[ -n ${__guard_fast[${ZSH_DEBUG_CMD%% *}]-} && $ZSH_DEBUG_CMD != *[\|\&\;\(\)\{\}\`$'\''\n'\'']* ]] || { [[ -n ${__guard_xw[$ZSH_DEBUG_CMD]-} && $PATH == "$__guard_path" ]] && builtin zstat -A __guard_s +ctime -- "${(@ps:\0:)__guard_xw[$ZSH_DEBUG_CMD]}" 2>&- && builtin zstat -A __guard_t +inode -- "${(@ps:\0:)__guard_xw[$ZSH_DEBUG_CMD]}" 2>&- && [[ "${(j: :)__guard_s[@]} ${(j: :)__guard_t[@]} ${(qP)__guard_xn[$ZSH_DEBUG_CMD]-}${__guard_xe[$ZSH_DEBUG_CMD]:+${(e)__guard_xe[$ZSH_DEBUG_CMD]}}" == "${__guard_xv[$ZSH_DEBUG_CMD]-}" ]] } || [[ $ZSH_DEBUG_CMD == [[:alpha:]_]*=*'\'' '\'' && ${ZSH_DEBUG_CMD%%=*} != *[^[:alnum:]_]* && ${ZSH_DEBUG_CMD% } != *[[:space:]\|\&\;\(\)\{\}\`]* || -n ${__guard_memo[$ZSH_DEBUG_CMD]-} ]] || __guard_debug "$@" || { builtin setopt errexit; builtin return 126 }' DEBUG
  fi
}
