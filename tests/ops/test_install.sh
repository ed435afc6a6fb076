#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make install` into a scratch DESTDIR, then what an operator would rely on:
# the installed programs run and say their release, commit and protocol; the
# man pages are roff that man renders without a warning; the bash completion
# loads and completes commands, subcommands and flags from the installed
# witan; the systemd unit carries its hardening and passes
# `systemd-analyze verify` (skipped, saying so, where that tool is missing).
# Usage (from the project root; make test runs it):
#   MAKE=make SAN=0 sh tests/ops/test_install.sh
set -u
MAKE=${MAKE:-make}
SAN=${SAN:-0}
PREFIX=/usr
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
fail=0
bad() { echo "install: FAIL: $*" >&2; fail=1; }

if ! $MAKE --no-print-directory install SAN="$SAN" PREFIX=$PREFIX \
        DESTDIR="$dest" >"$dest.log" 2>&1; then
    cat "$dest.log" >&2
    rm -f "$dest.log"
    echo "install: FAIL: make install" >&2
    exit 1
fi
rm -f "$dest.log"
root=$dest$PREFIX

for f in bin/witand bin/witan share/man/man8/witand.8 share/man/man1/witan.1 \
         share/bash-completion/completions/witan \
         share/bash-completion/completions/witand \
         lib/systemd/system/witand@.service share/doc/witan/LICENSE; do
    [ -e "$root/$f" ] || bad "$PREFIX/$f not installed"
done

# --- programs -----------------------------------------------------------------
pattern='^witand? [0-9][0-9A-Za-z.+~-]* \(commit [0-9a-z-]+, protocol [0-9]+\)$'
v=$("$root/bin/witand" --version) || bad "witand --version failed"
echo "$v" | grep -Eq "$pattern" || bad "witand --version printed '$v'"
v2=$("$root/bin/witan" version) || bad "witan version failed"
echo "$v2" | grep -Eq "$pattern" || bad "witan version printed '$v2'"
[ "${v#witand }" = "${v2#witan }" ] || bad "witand and witan differ: '$v' '$v2'"
release=$(cat VERSION)
case $v in "witand $release "*) ;; *) bad "witand says '$v', VERSION says $release" ;; esac
echo "install: $v"

# --- man pages ----------------------------------------------------------------
for page in man8/witand.8 man1/witan.1; do
    grep -q '^\.TH ' "$root/share/man/$page" || bad "$page has no .TH line"
    if command -v man >/dev/null 2>&1; then
        warnings=$(MANWIDTH=80 man --warnings -l "$root/share/man/$page" 2>&1 >/dev/null)
        [ -z "$warnings" ] || bad "man -l $page: $warnings"
        text=$(MANWIDTH=80 man -l "$root/share/man/$page" 2>/dev/null)
        echo "$text" | grep -q '^SYNOPSIS' || bad "$page renders without SYNOPSIS"
        echo "$text" | grep -q -- '--help' || bad "$page does not show the help text"
    fi
done
# Every command in witan --help has its section in witan(1).
for c in $("$root/bin/witan" --help | awk '/^commands:/ { on = 1; next }
                                         on && NF && $1 != "version" { print $1 }'); do
    grep -q "^\.SS witan $c\$" "$root/share/man/man1/witan.1" ||
        bad "witan.1 has no section for '$c'"
done
command -v man >/dev/null 2>&1 && echo "install: man pages render (man -l)" ||
    echo "install: man not installed: man pages checked for .TH only"

# --- bash completion ------------------------------------------------------------
if command -v bash >/dev/null 2>&1; then
    comp=$root/share/bash-completion/completions/witan
    # complete WORDS...: what _witan offers for the last word.
    complete_words() {
        PATH="$root/bin:$PATH" bash -c '. "$1"; shift
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _witan
            echo "${COMPREPLY[*]}"' sh "$comp" "$@"
    }
    bash -c ". '$comp' && complete -p witan >/dev/null && complete -p witand >/dev/null" ||
        bad "the completion file does not load in bash"
    got=$(complete_words witan qu); [ "$got" = query ] || bad "witan qu<TAB>: '$got'"
    got=$(complete_words witan testnet st)
    [ "$got" = "start status stop" ] || bad "witan testnet st<TAB>: '$got'"
    got=$(complete_words witan query status --ho)
    [ "$got" = --home ] || bad "witan query status --ho<TAB>: '$got'"
    echo "install: bash completion loads and completes commands, subcommands, flags"
else
    echo "install: bash not installed: completion not checked"
fi

# --- systemd unit -----------------------------------------------------------------
unit=$root/lib/systemd/system/witand@.service
for line in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' \
            'PrivateTmp=yes' 'ReadWritePaths=/var/lib/witan/%i' \
            'CapabilityBoundingSet=' \
            'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
            'MemoryDenyWriteExecute=yes' \
            "ExecStart=$PREFIX/bin/witand --home /var/lib/witan/%i"; do
    grep -qx "$line" "$unit" || bad "the unit lacks '$line'"
done
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify checks that ExecStart can run and that the documented man page
    # exists, so an instance of the unit points at the installed copies.
    scratch=$(mktemp -d)
    sed "s|=$PREFIX/bin/|=$root/bin/|" "$unit" >"$scratch/witand@check.service"
    out=$(MANPATH="$root/share/man" systemd-analyze verify \
          "$scratch/witand@check.service" 2>&1)
    rc=$?
    rm -rf "$scratch"
    # Unknown or misspelt settings are only warnings to verify: any output
    # counts as a failure here.
    if [ $rc -ne 0 ] || [ -n "$out" ]; then
        bad "systemd-analyze verify: $out"
    else
        echo "install: systemd-analyze verify: witand@.service is clean"
    fi
else
    echo "install: NOTE: systemd-analyze not available, unit not verified"
fi

[ $fail -eq 0 ] || exit 1
echo "install: ok"
