# man/options.awk - turns the documented sample configuration (conf/soketi.conf, written
# from the option table by `soketi config sample`) into the OPTIONS part of soketi.conf(5),
# so that the table in src/config/options.c stays the one source of every option's text.
#
# The sample is blocks of lines separated by blank lines. The first block (the file's
# own introduction) is skipped: soketi.conf.5.in says it in prose. A block with a
# "[section]" line starts a subsection; a block ending in a ";key = value" line is one
# option (its comment lines are the description); any other block is a paragraph.

function esc(s) {
    gsub(/\\/, "\\e", s)
    if (s ~ /^[.']/) s = "\\&" s
    return s
}
# Long JSON values may break after their commas (a blank there is still the same JSON).
function breakable(s) {
    gsub(/,/, ", ", s)
    gsub(/,  /, ", ", s) # a comma that had its blank already (prose) keeps one
    return s
}
function text(s) {
    s = breakable(esc(s))
    gsub(/SOKETI_[A-Z0-9_]+/, "\\fB&\\fR", s)
    return s
}
function flush(    i, n, last, m, key, val) {
    if (nb == 0) return
    blocks++
    if (blocks == 1) { nb = 0; return }
    last = block[nb]
    for (i = 1; i <= nb; i++) {
        if (block[i] ~ /^\[.*\]$/) {
            for (n = 1; n < i; n++) {
                if (n == 1) print ".PP"
                print text(substr(block[n], 3))
            }
            print ".SS \"" esc(block[i]) "\""
            nb = 0
            return
        }
    }
    if (match(last, /^;?[A-Za-z_][A-Za-z0-9_]* =/)) {
        sub(/^;/, "", last)
        key = last; sub(/ =.*/, "", key)
        val = last; sub(/^[^=]*= ?/, "", val)
        print ".TP"
        # A tag does not break: a long default goes on a line of its own.
        if (length(val) > 40) {
            print "\\fB" esc(key) "\\fR"
            print "Default: \\fI" breakable(esc(val)) "\\fR"
            print ".br"
        } else {
            print "\\fB" esc(key) "\\fR = " (val == "" ? "(empty)" : "\\fI" esc(val) "\\fR")
        }
        for (i = 1; i < nb; i++) {
            if (i > 1) print ".br"
            print text(substr(block[i], 3))
        }
    } else {
        print ".PP"
        for (i = 1; i <= nb; i++) print text(substr(block[i], 3))
    }
    nb = 0
}
BEGIN { nb = 0; blocks = 0; print ".SS \"Top-level options\"" }
/^[ \t]*$/ { flush(); next }
{ block[++nb] = $0 }
END { flush() }
