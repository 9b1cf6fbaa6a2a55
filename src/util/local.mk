# src/util/local.mk - small pieces everything shares (included by Makefile.am)

noinst_LTLIBRARIES += libskt_util.la
libskt_util_la_SOURCES = \
	src/util/log.c src/util/log.h \
	src/util/map.c src/util/map.h \
	src/util/buf.c src/util/buf.h

check_PROGRAMS += tests/check_map
TESTS += tests/check_map
tests_check_map_SOURCES = tests/check_map.c
tests_check_map_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_map_LDADD = libskt_util.la $(CHECK_EXT)
