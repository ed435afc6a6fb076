# SPDX-License-Identifier: Apache-2.0
# bash completion for witan: its commands, each command's subcommands and
# flags. They are read from the witan being completed (its --help), so the
# completion never disagrees with the program it completes.

# Subcommands: the word after "witan CMD" in CMD's usage lines, split at |
# ("start|stop|status"), words only (not FILE, --flags or HASH).
_witan_subcommands()
{
    "$1" "$2" --help 2>/dev/null | awk -v c="$2" '{
        for (i = 1; i + 2 <= NF; i++)
            if ($i == "witan" && $(i + 1) == c) {
                n = split($(i + 2), w, "|")
                for (j = 1; j <= n; j++)
                    if (w[j] ~ /^[a-z][a-z-]*$/)
                        print w[j]
            }
    }' | sort -u
}

_witan()
{
    local cur prev prog cmd words
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    prog=${COMP_WORDS[0]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        words=$("$prog" --help 2>/dev/null |
            awk '/^commands:/ { on = 1; next } on && NF { print $1 }')
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return 0
    fi
    cmd=${COMP_WORDS[1]}
    case $prev in
    --home | --dir | --out | --key | --file | --samples | --tls-ca | --asm | \
        --archive | --genesis)
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
        ;;
    esac
    if [ "$COMP_CWORD" -eq 2 ] && [[ $cur != -* ]]; then
        words=$(_witan_subcommands "$prog" "$cmd")
        if [ -n "$words" ]; then
            COMPREPLY=($(compgen -W "$words" -- "$cur"))
            return 0
        fi
    fi
    if [[ $cur == -* ]]; then
        words=$("$prog" "$cmd" --help 2>/dev/null |
            grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
        COMPREPLY=($(compgen -W "$words --help" -- "$cur"))
        return 0
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _witan witan

# witand takes few flags; they are listed in its --help.
_witand()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    case $prev in
    --home) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
    --log-level) COMPREPLY=($(compgen -W "debug info warn error off" -- "$cur")); return 0 ;;
    esac
    COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" --help 2>/dev/null |
        grep -o -- '--[a-z][a-z0-9-]*' | sort -u)" -- "$cur"))
}
complete -F _witand witand
