/* check_sql_servers.h - real MariaDB and PostgreSQL servers for the SQL app manager tests,
 * started by the test on free loopback ports in temporary directories, never system-wide.
 *
 * A template data directory per kind is made once (mariadb-install-db / initdb), loaded with
 * soketi's schema fixtures (tests/fixtures/mysql_schema.sql, postgres_schema.sql) plus what the
 * caller's setup SQL adds, and shut down cleanly; every server then runs on a copy of it, so that a
 * test may stop or kill its own server without touching the others'. Servers run in a process group
 * of their own, signalled with their children (SIGSTOP stops every PostgreSQL backend too,
 * though each runs in a session of its own), and die with the process that
 * started them (PR_SET_PDEATHSIG). PostgreSQL refuses to run as root: as root, its files
 * are owned by, and it runs as, the postgres user. Binaries come from $MARIADBD /
 * $PG_BINDIR, else /usr/sbin and /usr/lib/postgresql/<15..>/bin.
 */
#ifndef SKT_TESTS_CHECK_SQL_SERVERS_H
#define SKT_TESTS_CHECK_SQL_SERVERS_H

#include <sys/types.h>

typedef enum { SQL_MARIADB = 0, SQL_POSTGRES = 1 } sql_kind_t;

typedef struct sql_server_s {
    sql_kind_t kind;
    pid_t pid; /* also its process group */
    int port;
    char dir[128]; /* its data directory (a copy of the template) */
} sql_server_t;

/* 1 when the kind's server binaries are installed. */
int sql_server_available(sql_kind_t kind);

/* Makes the kind's template once per process: database "main" with soketi's schema from
 * fixtures_dir, then setup_sql (may be NULL) run in it. 0, or -1 (said on stderr). */
int sql_template_make(sql_kind_t kind, const char *fixtures_dir, const char *setup_sql);
/* Removes the templates made. */
void sql_templates_remove(void);

/* Starts a server of kind on a copy of its template, on a free loopback port, and waits
 * (10 s at most) until it accepts clients. 0, or -1. */
int sql_server_start(sql_kind_t kind, sql_server_t *s);
/* Starts s again, on its directory and port (after sql_server_kill). 0, or -1. */
int sql_server_restart(sql_server_t *s);
/* Sends sig to its process group and its children (SIGSTOP, SIGCONT). */
void sql_server_signal(sql_server_t *s, int sig);
/* SIGKILL and wait; its directory stays (for a restart). */
void sql_server_kill(sql_server_t *s);
/* Kills it and removes its directory. Fine on a server never started. */
void sql_server_remove(sql_server_t *s);

/* Runs sql in database "main" with the kind's command-line client; 0 when it succeeded. */
int sql_server_exec(const sql_server_t *s, const char *sql);
/* The number a query answers (its first value), or -1 when it failed. */
long sql_server_query_long(const sql_server_t *s, const char *sql);

#endif
