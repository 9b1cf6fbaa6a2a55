# src/config/local.mk - options, their readers, and apps (included by Makefile.am)

noinst_LTLIBRARIES += libskt_config.la
libskt_config_la_SOURCES = \
	src/config/options.c src/config/options.h \
	src/config/config.c src/config/config.h src/config/sample.c \
	src/config/apps.c src/config/apps.h

check_PROGRAMS += tests/check_config tests/check_apps
TESTS += tests/check_config tests/check_apps
tests_check_config_SOURCES = tests/check_config.c
tests_check_config_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_config_LDADD = libskt_config.la libskt_util.la $(CHECK_EXT)
tests_check_apps_SOURCES = tests/check_apps.c
tests_check_apps_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_apps_LDADD = libskt_config.la libskt_util.la $(CHECK_EXT)
EXTRA_DIST += tests/fixtures/config/basic.ini tests/fixtures/config/basic.json \
	tests/fixtures/config/nested.json tests/fixtures/config/priority.ini \
	tests/fixtures/config/priority.json
