# tests/local.mk - test harness pieces shared by all areas (included by Makefile.am)
#
# Unit tests live beside their area's local.mk. The integration suite starts
# the real daemon and drives it with the official pusher-js and pusher npm
# packages (tests/integration/, node's test runner); its node_modules come
# from `npm ci` (scripts/test.sh does it).

TESTS += tests/integration/run.sh tests/valgrind.sh tests/bench_smoke.sh
EXTRA_DIST += tests/check_main.h tests/integration/run.sh tests/integration/harness.mjs \
	tests/integration/README.md tests/integration/valgrind-drive.mjs \
	tests/integration/sqldb.mjs tests/integration/app-manager-sql.mjs \
	tests/valgrind.sh tests/bench_smoke.sh $(wildcard $(srcdir)/tests/integration/*.test.mjs)
