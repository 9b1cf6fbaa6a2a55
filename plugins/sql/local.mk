# plugins/sql/local.mk - the SQL app manager plugins, app_manager_mysql.so and
# app_manager_postgres.so (included by Makefile.am), each built when configure finds its
# client library (MariaDB Connector/C, libpq; --with-mysql / --with-postgres, as NATS).
#
# What both share is a convenience library: the connection pool on the event loop, generic
# over a driver table (sql_pool.c), the options and entry points (sql_am.c), and the pure
# part, rows as JSON and quoted table names (sql_row.c, unit-tested alone). It compiles its
# own copy of the daemon's JSON writer, because a plugin resolves nothing from the daemon.
# Each plugin is then only its driver: the library's non-blocking calls, step by step.

# A plugin exports its three entry points only: the library's names stay its own.
SQL_PLUGIN_EXPORTS = -export-symbols-regex '^soketi_app_manager_'

if HAVE_SQL_PLUGINS
noinst_LTLIBRARIES += plugins/sql/libskt_sql.la
plugins_sql_libskt_sql_la_SOURCES = plugins/sql/sql_pool.c plugins/sql/sql_pool.h \
	plugins/sql/sql_am.c plugins/sql/sql_row.c plugins/sql/sql_row.h \
	src/util/jsonw.c src/util/jsonw.h
plugins_sql_libskt_sql_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src
plugins_sql_libskt_sql_la_CFLAGS = $(AM_CFLAGS)
endif

if HAVE_MYSQL
plugin_LTLIBRARIES += plugins/app_manager_mysql.la
plugins_app_manager_mysql_la_SOURCES = plugins/sql/am_mysql.c
plugins_app_manager_mysql_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src
plugins_app_manager_mysql_la_CFLAGS = $(AM_CFLAGS) $(MARIADB_CFLAGS)
plugins_app_manager_mysql_la_LIBADD = plugins/sql/libskt_sql.la $(MARIADB_LIBS) \
	$(LIBEVENT_LIBS) $(JANSSON_LIBS)
# nodelete: Connector/C keeps process-wide state (its library init, thread keys) that
# must not go away under a daemon that dlclose()s the plugin
plugins_app_manager_mysql_la_LDFLAGS = $(plugin_ldflags) $(SQL_PLUGIN_EXPORTS) -Wl,-z,nodelete
endif

if HAVE_POSTGRES
plugin_LTLIBRARIES += plugins/app_manager_postgres.la
plugins_app_manager_postgres_la_SOURCES = plugins/sql/am_postgres.c
plugins_app_manager_postgres_la_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src
plugins_app_manager_postgres_la_CFLAGS = $(AM_CFLAGS) $(LIBPQ_CFLAGS)
plugins_app_manager_postgres_la_LIBADD = plugins/sql/libskt_sql.la $(LIBPQ_LIBS) \
	$(LIBEVENT_LIBS) $(JANSSON_LIBS)
plugins_app_manager_postgres_la_LDFLAGS = $(plugin_ldflags) $(SQL_PLUGIN_EXPORTS)
endif

# The pure part: rows as JSON text, typed; table names quoted (no database needed).
check_PROGRAMS += tests/check_sql_row
TESTS += tests/check_sql_row
tests_check_sql_row_SOURCES = tests/check_sql_row.c plugins/sql/sql_row.c
tests_check_sql_row_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/sql
tests_check_sql_row_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_sql_row_LDADD = libskt_util.la $(CHECK_EXT)

# The plugins end to end against a mariadbd and a postgres the test starts on free loopback
# ports (tests/check_sql_servers.c): each built plugin dlopen'ed with a host table of the
# test's own. A missing server fails the test unless SOKETI_TEST_ALLOW_NO_SQL=1.
if HAVE_SQL_PLUGINS
check_PROGRAMS += tests/check_sql_live
TESTS += tests/check_sql_live
tests_check_sql_live_SOURCES = tests/check_sql_live.c tests/check_sql_servers.c tests/fake_config.c tests/fake_config.h tests/test_port.c tests/test_port.h \
	tests/check_sql_servers.h
tests_check_sql_live_CPPFLAGS = $(AM_CPPFLAGS) \
	-DCHECK_SQL_PLUGIN_DIR=\"$(abs_top_builddir)/plugins/.libs\" \
	-DCHECK_SQL_FIXTURES=\"$(abs_top_srcdir)/tests/fixtures\" \
	-DCHECK_SQL_HAVE_MYSQL=\"$(HAVE_MYSQL)\" \
	-DCHECK_SQL_HAVE_POSTGRES=\"$(HAVE_POSTGRES)\"
tests_check_sql_live_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_check_sql_live_LDADD = $(CHECK_EXT)
endif
EXTRA_DIST += plugins/sql/local.mk tests/fixtures/mysql_schema.sql \
	tests/fixtures/postgres_schema.sql
