# src/workers/local.mk - `workers = N`: the supervisor that runs the worker processes, its
# relay between them, and a worker's side of it (included by Makefile.am). The frame
# format (frame.c) is compiled into adapter_workers.so too (plugins/workers/local.mk).

noinst_LTLIBRARIES += libskt_workers.la
libskt_workers_la_SOURCES = \
	src/workers/frame.c src/workers/frame.h \
	src/workers/hub.c src/workers/hub.h \
	src/workers/hub_store.c src/workers/hub_store.h \
	src/workers/worker.c src/workers/worker.h \
	src/workers/scrape.c src/workers/scrape.h \
	src/workers/scrape_worker.c src/workers/scrape_worker.h \
	src/workers/supervisor.c src/workers/supervisor.h

check_PROGRAMS += tests/check_workers_frame
TESTS += tests/check_workers_frame
tests_check_workers_frame_SOURCES = tests/check_workers_frame.c
tests_check_workers_frame_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_workers_frame_LDADD = libskt_workers.la libskt_config.la libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_workers_hub
TESTS += tests/check_workers_hub
tests_check_workers_hub_SOURCES = tests/check_workers_hub.c
tests_check_workers_hub_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_workers_hub_LDADD = libskt_workers.la libskt_features.la libskt_config.la libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_workers_scrape
TESTS += tests/check_workers_scrape
tests_check_workers_scrape_SOURCES = tests/check_workers_scrape.c
tests_check_workers_scrape_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_workers_scrape_LDADD = libskt_workers.la libskt_config.la libskt_util.la $(CHECK_EXT)
