#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every C, shell and Python source file of the project carries an
# SPDX-License-Identifier line within its first three lines (after a #!
# line), so that a file copied out of the tree still says its licence.
# Generated code lives in the build directory and is not looked at.
# Usage: sh tests/ops/check_spdx.sh   (from the project root)
set -u
if [ -e .git ] && command -v git >/dev/null 2>&1; then
    files=$(git ls-files '*.c' '*.h' '*.sh' '*.py')
else
    files=$(find . -path ./build -prune -o -path './build-*' -prune -o \
        \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.py' \) \
        -type f -print)
fi
missing=0
total=0
for f in $files; do
    [ -f "$f" ] || continue
    total=$((total + 1))
    if ! head -3 "$f" | grep -q 'SPDX-License-Identifier: Apache-2.0'; then
        echo "spdx: $f has no 'SPDX-License-Identifier: Apache-2.0' line" >&2
        missing=$((missing + 1))
    fi
done
if [ "$missing" -ne 0 ]; then
    echo "spdx: $missing of $total source files without a licence line" >&2
    exit 1
fi
echo "spdx: all $total source files carry SPDX-License-Identifier: Apache-2.0"
