# SPDX-License-Identifier: Apache-2.0
# Sourced by the CLI tests that start nodes (test_json.sh, test_readme.sh).
# ports_free BASE COUNT: whether ports BASE..BASE+COUNT-1 are all unused on
# this machine, in any state (listening, connected, TIME_WAIT).
ports_free() {
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v lo="$1" -v n="$2" '
        NR > 1 { split($2, a, ":"); p = 0; h = a[2]
                 for (i = 1; i <= length(h); i++)
                     p = p * 16 + index("0123456789ABCDEF", substr(h, i, 1)) - 1
                 if (p >= lo && p < lo + n) busy = 1 }
        END { exit busy }'
}
