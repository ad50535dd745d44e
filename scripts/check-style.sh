#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Machine-checked style: banned functions and the SPDX line on every source
# file. Banned: easy to misuse (unbounded copies, hidden global state).
set -u
cd "$(dirname "$0")/.."
fail=0
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gmtime|localtime|gets|rand|srand)[[:space:]]*\('
if hits=$(grep -RnE "$banned" src tests/unit tests/fuzz bench --include='*.c' --include='*.h' 2>/dev/null | grep -vE '//.*banned|mx_'); then
	if [ -n "$hits" ]; then
		echo "banned functions used:"; echo "$hits"; fail=1
	fi
fi
for f in $(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/fuzz/*.c' 'bench/*.c'; \
           git ls-files --others --exclude-standard 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/fuzz/*.c' 'bench/*.c'); do
	head -n 2 "$f" | grep -q 'SPDX-License-Identifier: Apache-2.0' || { echo "missing SPDX line: $f"; fail=1; }
done
exit $fail
