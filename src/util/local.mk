# src/util/local.mk - small pieces everything shares (included by Makefile.am)

noinst_LTLIBRARIES += libskt_util.la
libskt_util_la_SOURCES = \
	src/util/log.c src/util/log.h \
	src/util/map.c src/util/map.h \
	src/util/buf.c src/util/buf.h \
	src/util/jsonw.c src/util/jsonw.h src/util/hex.h \
	src/util/sd_notify.c src/util/sd_notify.h

check_PROGRAMS += tests/check_map
TESTS += tests/check_map
tests_check_map_SOURCES = tests/check_map.c
tests_check_map_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_map_LDADD = libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_sd_notify
TESTS += tests/check_sd_notify
tests_check_sd_notify_SOURCES = tests/check_sd_notify.c
tests_check_sd_notify_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_sd_notify_LDADD = libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_log
TESTS += tests/check_log
tests_check_log_SOURCES = tests/check_log.c
tests_check_log_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_log_LDADD = libskt_util.la $(CHECK_EXT)
