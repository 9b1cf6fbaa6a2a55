#!/bin/sh
# tests/man.sh - the manual pages the build wrote (man/soketi.8, man/soketi.conf.5) render
# without groff warnings (the check lintian runs) and are complete: soketi.conf(5) lists
# every option of the sample configuration, soketi(8) every command of the daemon.
# Run by `make check` from the build directory; skips (77) without man or groff.
set -u
top=${SOKETI_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${SOKETI_BIN:-./soketi}
fail=0
for page in man/soketi.8 man/soketi.conf.5; do
    [ -f "$page" ] || { echo "man.sh: $page was not built"; exit 1; }
done

if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
    for page in man/soketi.8 man/soketi.conf.5; do
        out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
        if [ -n "$out" ]; then
            echo "man.sh: $page: groff warnings:"; echo "$out"; fail=1
        fi
    done
else
    echo "man.sh: man or groff not installed: rendering not checked"
fi

# Every option line of the sample is an entry of soketi.conf(5), every variable named.
want=$(grep -cE '^;?[A-Za-z_][A-Za-z0-9_]* =' "$top/conf/soketi.conf")
got=$(grep -c '^\.TP' man/soketi.conf.5)
# (the FILES section adds two .TP entries)
if [ "$got" -ne $((want + 2)) ]; then
    echo "man.sh: soketi.conf.5 has $got entries, the sample $want options (+2 files)"; fail=1
fi
for var in $(grep -oE 'SOKETI_[A-Z0-9_]+' "$top/conf/soketi.conf" | sort -u); do
    grep -q "$var" man/soketi.conf.5 || { echo "man.sh: soketi.conf.5 does not name $var"; fail=1; }
done

# Every command the daemon's usage lists is described in soketi(8).
if [ -x "$bin" ]; then
    "$bin" --help | sed -n 's/^ *\(usage: \)\{0,1\}soketi \([a-z][a-z ]*[a-z]\).*/\2/p' | while read -r cmd; do
        grep -q "^\.B soketi $cmd\|^\.B $cmd\$" man/soketi.8 || { echo "man.sh: soketi.8 does not describe '$cmd'"; exit 1; }
    done || fail=1
fi
[ "$fail" -eq 0 ] && echo "man.sh: man pages OK"
exit "$fail"
