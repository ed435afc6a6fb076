#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Turns a program's --help text (standard input) into a man page (standard
# output), so that the installed manual says exactly what --help says and
# never drifts from it. No help2man: a few lines of awk do.
#
# Usage: sh packaging/help2roff.sh NAME SECTION SUMMARY VERSION < help.txt
#
# The leading "usage:" lines (up to the first blank line) become SYNOPSIS,
# the rest DESCRIPTION, kept as written (no-fill: the help text is already
# laid out). An input line "### TITLE" starts a subsection (.SS TITLE); the
# Makefile puts one before each witan command's own --help.
set -eu
[ $# -eq 4 ] || { echo "usage: help2roff.sh NAME SECTION SUMMARY VERSION" >&2; exit 2; }
awk -v name="$1" -v sec="$2" -v summary="$3" -v version="$4" '
# Backslashes are roff escapes, and a line starting with . or '\'' would be
# a request: both are neutralised.
function esc(s) {
    gsub(/\\/, "\\e", s)
    if (s ~ /^[.\047]/)
        s = "\\&" s
    return s
}
BEGIN {
    printf ".TH %s %s \"\" \"%s\" \"Witan\"\n", toupper(name), sec, esc(version)
    print ".SH NAME"
    printf "%s \\- %s\n", name, esc(summary)
    print ".SH SYNOPSIS"
    print ".nf"
    part = "synopsis"
}
part == "synopsis" && /^[ \t]*$/ {
    print ".fi"
    print ".SH DESCRIPTION"
    print ".nf"
    part = "description"
    next
}
part == "synopsis" {
    sub(/^usage: /, "")
    sub(/^       /, "")
    print esc($0)
    next
}
/^### / {
    print ".fi"
    printf ".SS %s\n", esc(substr($0, 5))
    print ".nf"
    next
}
{ print esc($0) }
END {
    print ".fi"
    print ".SH VERSION"
    print esc(version)
    print ".SH SEE ALSO"
    print "The specification in the source tree: spec/node.md (the node, its"
    print "home and config), spec/api.md (the client and HTTP APIs)."
}'
