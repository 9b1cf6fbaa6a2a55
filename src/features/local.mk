# src/features/local.mk - rate limits, cache channels, webhooks, metrics (included by Makefile.am)

noinst_LTLIBRARIES += libskt_features.la
libskt_features_la_SOURCES = \
	src/features/features.c src/features/features.h \
	src/features/ratelimit.c src/features/ratelimit.h \
	src/features/cache.c src/features/cache.h \
	src/features/deadline.c src/features/deadline.h \
	src/features/watchlist.c src/features/watchlist.h \
	src/features/webhooks.c src/features/webhooks.h src/features/webhook_events.c \
	src/features/webhook_select.c \
	src/features/webhook_log.c src/features/webhook_log.h \
	src/features/webhook_queue.c src/features/webhooks_internal.h \
	src/features/curl_loop.c src/features/curl_loop.h \
	src/features/lambda.c src/features/lambda.h src/features/sigv4.c src/features/sigv4.h \
	src/features/metrics.c src/features/metrics.h \
	src/features/metrics_merge.c src/features/metrics_merge.h \
	src/features/appdir.c src/features/appdir.h \
	src/features/clock.h
# libcurl for webhooks; programs linking this library get it through libtool.
libskt_features_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(CRYPTO_CFLAGS)
libskt_features_la_LIBADD = $(CURL_LIBS) $(CRYPTO_LIBS) -lm

check_PROGRAMS += tests/check_ratelimit
TESTS += tests/check_ratelimit
tests_check_ratelimit_SOURCES = tests/check_ratelimit.c
tests_check_ratelimit_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_ratelimit_LDADD = libskt_features.la libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_cache
TESTS += tests/check_cache
tests_check_cache_SOURCES = tests/check_cache.c
tests_check_cache_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_cache_LDADD = libskt_features.la libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_users
TESTS += tests/check_users
tests_check_users_SOURCES = tests/check_users.c
tests_check_users_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_users_LDADD = libskt_features.la libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_webhooks
TESTS += tests/check_webhooks
tests_check_webhooks_SOURCES = tests/check_webhooks.c
tests_check_webhooks_CFLAGS = $(CHECK_CFLAGS_ALL) $(CURL_CFLAGS)
tests_check_webhooks_LDADD = libskt_features.la libskt_pusher.la libskt_config.la libskt_util.la \
	$(CHECK_EXT)

check_PROGRAMS += tests/check_webhook_queue
TESTS += tests/check_webhook_queue
tests_check_webhook_queue_SOURCES = tests/check_webhook_queue.c
tests_check_webhook_queue_CFLAGS = $(CHECK_CFLAGS_ALL) $(CURL_CFLAGS)
tests_check_webhook_queue_LDADD = libskt_features.la libskt_pusher.la libskt_config.la \
	libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_metrics
TESTS += tests/check_metrics
tests_check_metrics_SOURCES = tests/check_metrics.c
tests_check_metrics_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_metrics_LDADD = libskt_features.la libskt_config.la libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_lambda
TESTS += tests/check_lambda
tests_check_lambda_SOURCES = tests/check_lambda.c
tests_check_lambda_CFLAGS = $(CHECK_CFLAGS_ALL) $(CURL_CFLAGS)
tests_check_lambda_LDADD = libskt_features.la libskt_util.la $(CHECK_EXT)

check_PROGRAMS += tests/check_appdir
TESTS += tests/check_appdir
tests_check_appdir_SOURCES = tests/check_appdir.c
tests_check_appdir_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_appdir_LDADD = libskt_features.la libskt_config.la libskt_util.la $(CHECK_EXT)
