/* am_postgres.c - app_manager_postgres.so: soketi's `appManager.driver = postgres`, apps read
 * from a PostgreSQL table with libpq's asynchronous API on the daemon's loop (sql_pool.h
 * drives the steps below).
 *
 * DESIGN
 * Connecting: PQconnectStartParams to the address the pool resolved (hostaddr; host keeps
 * the configured name for TLS and passwords files), then PQconnectPoll whenever the socket
 * is ready; the socket may change between polls (libpq tries each address and SSL mode),
 * so the pool asks PQsocket at each step. Querying: one parameterised statement,
 *   SELECT * FROM <table> WHERE "id" = $1 LIMIT 1      (or "key")
 * sent with PQsendQueryParams on a non-blocking connection, flushed as the socket takes
 * it, read with PQconsumeInput until PQisBusy clears and PQgetResult gives NULL. Columns
 * are typed by their type OID (int2/int4/int8/oid and float4/float8/numeric: numbers,
 * bool, json/jsonb; anything else a string).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_pool.h"

/* Type OIDs (PostgreSQL's catalog/pg_type.dat: fixed for the built-in types). */
enum {
    PG_BOOL = 16,
    PG_INT8 = 20,
    PG_INT2 = 21,
    PG_INT4 = 23,
    PG_OID = 26,
    PG_JSON = 114,
    PG_FLOAT4 = 700,
    PG_FLOAT8 = 701,
    PG_NUMERIC = 1700,
    PG_JSONB = 3802,
};

typedef struct pg_db_s {
    PGconn *conn;
    PGresult *res; /* the query's result, until row() */
    const skt_sql_settings_t *s;
    char error[512];
} pg_db_t;

/* Keeps msg (libpq's ends with a newline) as the last error. */
static void
pg_set_error(pg_db_t *d, const char *msg)
{
    snprintf(d->error, sizeof(d->error), "%s", msg && *msg ? msg : "unknown error");
    size_t n = strlen(d->error);
    while (n && (d->error[n - 1] == '\n' || d->error[n - 1] == ' '))
        d->error[--n] = '\0';
}

static int
pg_fail(pg_db_t *d, int step)
{
    pg_set_error(d, PQerrorMessage(d->conn));
    return step;
}

/* libpq prints notices (and a server's last FATAL) on stderr by default: the pool logs what
 * matters itself. */
static void
pg_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void *
pg_connect_start(const skt_sql_settings_t *s, const char *addr, int *step)
{
    pg_db_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->s = s;
    char port[24], timeout[24];
    snprintf(port, sizeof(port), "%ld", s->port);
    /* libpq's own timer (seconds, 2 at least); the pool's deadline is what holds. */
    snprintf(timeout, sizeof(timeout), "%ld", s->timeout_ms < 2000 ? 2 : s->timeout_ms / 1000);
    const char *keys[12], *vals[12];
    int n = 0;
    keys[n] = "host", vals[n++] = s->host;
    if (addr[0] != '/') /* a socket directory is the host itself */
        keys[n] = "hostaddr", vals[n++] = addr;
    keys[n] = "port", vals[n++] = port;
    keys[n] = "user", vals[n++] = s->user;
    keys[n] = "password", vals[n++] = s->password;
    keys[n] = "dbname", vals[n++] = s->database;
    keys[n] = "connect_timeout", vals[n++] = timeout;
    keys[n] = "client_encoding", vals[n++] = "UTF8";
    keys[n] = "application_name", vals[n++] = "soketi";
    keys[n] = vals[n] = NULL;
    d->conn = PQconnectStartParams(keys, vals, 0);
    if (!d->conn) {
        free(d);
        return NULL;
    }
    PQsetNoticeProcessor(d->conn, pg_ignore_notice, NULL);
    /* As after PQconnectPoll answered PGRES_POLLING_WRITING (libpq's manual). */
    *step = PQstatus(d->conn) == CONNECTION_BAD ? pg_fail(d, SKT_SQL_FAIL) : SKT_SQL_WAIT_WRITE;
    return d;
}

static int
pg_connect_cont(void *db, int ready)
{
    (void)ready;
    pg_db_t *d = db;
    switch (PQconnectPoll(d->conn)) {
    case PGRES_POLLING_READING:
        return SKT_SQL_WAIT_READ;
    case PGRES_POLLING_WRITING:
        return SKT_SQL_WAIT_WRITE;
    case PGRES_POLLING_OK:
        return PQsetnonblocking(d->conn, 1) == 0 ? SKT_SQL_DONE : pg_fail(d, SKT_SQL_FAIL);
    default:
        return pg_fail(d, SKT_SQL_FAIL);
    }
}

/* Sends what is buffered: wait for the answer, or for room to send the rest. */
static int
pg_flush(pg_db_t *d)
{
    int f = PQflush(d->conn);
    if (f < 0)
        return pg_fail(d, SKT_SQL_FAIL);
    return f ? SKT_SQL_WAIT_READ | SKT_SQL_WAIT_WRITE : SKT_SQL_WAIT_READ;
}

static int
pg_query_start(void *db, int by, const char *value, size_t len)
{
    pg_db_t *d = db;
    (void)len; /* text format: value is NUL-terminated and holds no NUL (sql_pool.c) */
    char sql[1024];
    int n = snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE \"%s\" = $1 LIMIT 1", d->s->table,
                     by == SOKETI_APP_BY_KEY ? "key" : "id");
    if (n < 0 || (size_t)n >= sizeof(sql)) {
        pg_set_error(d, "the apps table name is too long");
        return SKT_SQL_FAIL_QUERY;
    }
    const char *params[1] = {value};
    if (!PQsendQueryParams(d->conn, sql, 1, NULL, params, NULL, NULL, 0))
        return pg_fail(d, PQstatus(d->conn) == CONNECTION_BAD ? SKT_SQL_FAIL : SKT_SQL_FAIL_QUERY);
    return pg_flush(d);
}

static int
pg_query_cont(void *db, int ready)
{
    pg_db_t *d = db;
    if (ready & SKT_SQL_WAIT_WRITE) {
        int step = pg_flush(d);
        if (step != SKT_SQL_WAIT_READ)
            return step;
    }
    if ((ready & SKT_SQL_WAIT_READ) && !PQconsumeInput(d->conn))
        return pg_fail(d, SKT_SQL_FAIL);
    while (!PQisBusy(d->conn)) {
        PGresult *r = PQgetResult(d->conn);
        if (!r)
            break;
        if (d->res)
            PQclear(r); /* only the first result counts; read the rest to the end */
        else
            d->res = r;
    }
    if (PQisBusy(d->conn))
        return SKT_SQL_WAIT_READ;
    if (PQstatus(d->conn) == CONNECTION_BAD)
        return pg_fail(d, SKT_SQL_FAIL);
    if (!d->res || PQresultStatus(d->res) != PGRES_TUPLES_OK) {
        pg_set_error(d, d->res ? PQresultErrorMessage(d->res) : "no result");
        PQclear(d->res);
        d->res = NULL;
        return SKT_SQL_FAIL_QUERY;
    }
    return SKT_SQL_DONE;
}

static skt_sql_kind_t
pg_kind(Oid type)
{
    switch (type) {
    case PG_INT2:
    case PG_INT4:
    case PG_INT8:
    case PG_OID:
    case PG_FLOAT4:
    case PG_FLOAT8:
    case PG_NUMERIC:
        return SKT_SQL_NUMBER;
    case PG_BOOL:
        return SKT_SQL_BOOL;
    case PG_JSON:
    case PG_JSONB:
        return SKT_SQL_JSON;
    default:
        return SKT_SQL_TEXT;
    }
}

static int
pg_row(void *db, skt_sql_row_t *r)
{
    pg_db_t *d = db;
    PGresult *res = d->res;
    d->res = NULL;
    if (!res || PQntuples(res) < 1) {
        PQclear(res);
        return 0;
    }
    for (int i = 0; i < PQnfields(res); i++) {
        const char *name = PQfname(res, i);
        skt_sql_kind_t kind = PQgetisnull(res, 0, i) ? SKT_SQL_NULL : pg_kind(PQftype(res, i));
        skt_sql_row_add(r, name, strlen(name), kind, PQgetvalue(res, 0, i),
                        (size_t)PQgetlength(res, 0, i));
    }
    PQclear(res);
    return 1;
}

/* Readable while idle: a notice or a parameter change is fine, end of file is not. */
static int
pg_idle_read(void *db)
{
    pg_db_t *d = db;
    if (!PQconsumeInput(d->conn) || PQstatus(d->conn) == CONNECTION_BAD)
        return pg_fail(d, -1);
    PGnotify *n;
    while ((n = PQnotifies(d->conn)))
        PQfreemem(n);
    return 0;
}

static int
pg_fd(void *db)
{
    return PQsocket(((pg_db_t *)db)->conn);
}

static long
pg_wait_ms(void *db)
{
    (void)db;
    return 0; /* libpq never asks for a timer */
}

static const char *
pg_error(void *db)
{
    return ((pg_db_t *)db)->error;
}

static void
pg_close(void *db, int broken)
{
    pg_db_t *d = db;
    (void)broken; /* PQfinish's Terminate goes out on the non-blocking socket, or not at all */
    PQclear(d->res);
    PQfinish(d->conn);
    free(d);
}

static const skt_sql_driver_t pg_driver = {
    .name = "postgres",
    .quote = SKT_SQL_QUOTE_PG,
    .connect_start = pg_connect_start,
    .connect_cont = pg_connect_cont,
    .query_start = pg_query_start,
    .query_cont = pg_query_cont,
    .row = pg_row,
    .idle_read = pg_idle_read,
    .fd = pg_fd,
    .wait_ms = pg_wait_ms,
    .error = pg_error,
    .close = pg_close,
};

SKT_SQL_AM_PLUGIN(pg_driver)
