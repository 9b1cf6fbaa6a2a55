/* am_mysql.c - app_manager_mysql.so: soketi's `appManager.driver = mysql`, apps read from a
 * MySQL or MariaDB table with MariaDB Connector/C's non-blocking API on the daemon's loop
 * (sql_pool.h drives the steps below).
 *
 * DESIGN
 * Each connection is made with MYSQL_OPT_NONBLOCK and TCP forced (node's mysql client, which
 * soketi uses, always speaks TCP): mysql_real_connect_start, then _cont whenever what it
 * waited for (MYSQL_WAIT_READ/WRITE/TIMEOUT on mysql_get_socket) happened. A lookup is one
 * prepared statement per connection and kind, prepared on first use,
 *   SELECT * FROM <table> WHERE `id` = ? LIMIT 1      (or `key`)
 * executed with the value bound as a string, its result stored (mysql_stmt_store_result:
 * the row is then local) and fetched with every column bound as a string with its length:
 * a column longer than the bound buffer is fetched again whole (mysql_stmt_fetch_column).
 * Columns are typed by their field type: integer, decimal and floating types are numbers,
 * MySQL's JSON type a JSON value (MariaDB stores JSON as text: a string the host parses),
 * NULL null, anything else a string. A broken or abandoned connection is cancelled
 * (mariadb_cancel) before mysql_close, so that nothing Connector/C still wants to send
 * can wait.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_pool.h"

#define MY_COLUMN_BUF 256 /* bytes bound per column: most fit, longer ones are re-fetched */

typedef enum { Q_PREPARE, Q_EXECUTE, Q_STORE } my_phase_t;

typedef struct my_db_s {
    MYSQL *mysql;
    MYSQL *connected; /* mysql_real_connect's answer */
    const skt_sql_settings_t *s;
    MYSQL_STMT *stmt[2]; /* by SOKETI_APP_BY_ID / _KEY, prepared on first use */
    MYSQL_STMT *cur;     /* the running lookup's */
    my_phase_t phase;
    int rc;      /* the finished step's answer */
    char *value; /* the bound parameter */
    unsigned long value_len;
    MYSQL_RES *meta; /* the result's columns, until row() */
    MYSQL_BIND *binds;
    unsigned long *lengths;
    my_bool *nulls;
    char *bufs;
    unsigned n_cols;
    char error[512];
} my_db_t;

static int
wait_from(int status)
{
    return (status & MYSQL_WAIT_READ ? SKT_SQL_WAIT_READ : 0) |
           (status & MYSQL_WAIT_WRITE ? SKT_SQL_WAIT_WRITE : 0) |
           (status & MYSQL_WAIT_TIMEOUT ? SKT_SQL_WAIT_TIMEOUT : 0) |
           (status & MYSQL_WAIT_EXCEPT ? SKT_SQL_WAIT_READ : 0);
}

static int
status_from(int ready)
{
    return (ready & SKT_SQL_WAIT_READ ? MYSQL_WAIT_READ : 0) |
           (ready & SKT_SQL_WAIT_WRITE ? MYSQL_WAIT_WRITE : 0) |
           (ready & SKT_SQL_WAIT_TIMEOUT ? MYSQL_WAIT_TIMEOUT : 0);
}

/* Keeps the error of the statement (or the connection) and says whether the connection is
 * lost (a client error, CR_*: 2000-2999) or only the statement failed (a server error). */
static int
my_fail(my_db_t *d, MYSQL_STMT *stmt)
{
    unsigned no = stmt ? mysql_stmt_errno(stmt) : mysql_errno(d->mysql);
    const char *msg = stmt ? mysql_stmt_error(stmt) : mysql_error(d->mysql);
    snprintf(d->error, sizeof(d->error), "%s (%u)", msg && *msg ? msg : "unknown error", no);
    return no >= 2000 && no < 3000 ? SKT_SQL_FAIL : SKT_SQL_FAIL_QUERY;
}

static void *
my_connect_start(const skt_sql_settings_t *s, const char *addr, int *step)
{
    my_db_t *d = calloc(1, sizeof(*d));
    if (!d || !(d->mysql = mysql_init(NULL))) {
        free(d);
        return NULL;
    }
    d->s = s;
    unsigned proto = MYSQL_PROTOCOL_TCP;
    mysql_options(d->mysql, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(d->mysql, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(d->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    int status = mysql_real_connect_start(&d->connected, d->mysql, addr, s->user, s->password,
                                          s->database, (unsigned)s->port, NULL, 0);
    *step = status ? wait_from(status) : d->connected ? SKT_SQL_DONE : my_fail(d, NULL);
    if (*step == SKT_SQL_FAIL_QUERY) /* refused by the server: this connection is no good */
        *step = SKT_SQL_FAIL;
    return d;
}

static int
my_connect_cont(void *db, int ready)
{
    my_db_t *d = db;
    int status = mysql_real_connect_cont(&d->connected, d->mysql, status_from(ready));
    if (status)
        return wait_from(status);
    if (!d->connected) {
        my_fail(d, NULL);
        return SKT_SQL_FAIL;
    }
    return SKT_SQL_DONE;
}

/* Binds every result column as a string buffer of MY_COLUMN_BUF bytes. */
static int
bind_results(my_db_t *d)
{
    d->meta = mysql_stmt_result_metadata(d->cur);
    unsigned n = d->meta ? mysql_num_fields(d->meta) : 0;
    /* A failure here leaves the rows unread on the connection: it is dropped (SKT_SQL_FAIL). */
    if (!n) {
        snprintf(d->error, sizeof(d->error), "the statement returns no columns");
        return SKT_SQL_FAIL;
    }
    if (n != d->n_cols) {
        free(d->binds);
        free(d->lengths);
        free(d->nulls);
        free(d->bufs);
        d->binds = calloc(n, sizeof(*d->binds));
        d->lengths = calloc(n, sizeof(*d->lengths));
        d->nulls = calloc(n, sizeof(*d->nulls));
        d->bufs = malloc((size_t)n * MY_COLUMN_BUF);
        d->n_cols = d->binds && d->lengths && d->nulls && d->bufs ? n : 0;
        if (!d->n_cols) {
            snprintf(d->error, sizeof(d->error), "out of memory");
            return SKT_SQL_FAIL;
        }
    }
    for (unsigned i = 0; i < n; i++)
        d->binds[i] = (MYSQL_BIND){.buffer_type = MYSQL_TYPE_STRING,
                                   .buffer = d->bufs + (size_t)i * MY_COLUMN_BUF,
                                   .buffer_length = MY_COLUMN_BUF,
                                   .length = &d->lengths[i],
                                   .is_null = &d->nulls[i]};
    if (mysql_stmt_bind_result(d->cur, d->binds)) {
        my_fail(d, d->cur);
        return SKT_SQL_FAIL;
    }
    return SKT_SQL_DONE;
}

/* A step failed: keeps why; a statement that did not prepare is dropped, to be prepared
 * again next time (the table may exist by then). */
static int
my_step_failed(my_db_t *d)
{
    int step = my_fail(d, d->cur);
    if (d->phase == Q_PREPARE) {
        d->stmt[d->cur == d->stmt[1]] = NULL;
        mysql_stmt_close(d->cur);
        d->cur = NULL;
    }
    return step;
}

/* Moves the lookup on from whatever step just finished (status 0) to the next one. */
static int
my_run(my_db_t *d, int status)
{
    while (!status) {
        if (d->rc)
            return my_step_failed(d);
        if (d->phase == Q_PREPARE) {
            MYSQL_BIND param = {.buffer_type = MYSQL_TYPE_STRING,
                                .buffer = d->value,
                                .buffer_length = d->value_len,
                                .length = &d->value_len};
            if (mysql_stmt_bind_param(d->cur, &param))
                return my_step_failed(d);
            d->phase = Q_EXECUTE;
            status = mysql_stmt_execute_start(&d->rc, d->cur);
        } else if (d->phase == Q_EXECUTE) {
            int step = bind_results(d);
            if (step != SKT_SQL_DONE)
                return step;
            d->phase = Q_STORE;
            status = mysql_stmt_store_result_start(&d->rc, d->cur);
        } else {
            return SKT_SQL_DONE;
        }
    }
    return wait_from(status);
}

static int
my_query_start(void *db, int by, const char *value, size_t len)
{
    my_db_t *d = db;
    free(d->value);
    d->value = malloc(len + 1);
    if (!d->value) {
        snprintf(d->error, sizeof(d->error), "out of memory");
        return SKT_SQL_FAIL_QUERY;
    }
    memcpy(d->value, value, len);
    d->value_len = (unsigned long)len;
    by = by == SOKETI_APP_BY_KEY ? 1 : 0;
    d->rc = 0;
    d->phase = Q_PREPARE;
    if (d->stmt[by]) {
        d->cur = d->stmt[by];
        return my_run(d, 0);
    }
    char sql[1024];
    int n = snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE `%s` = ? LIMIT 1", d->s->table,
                     by ? "key" : "id");
    if (n < 0 || (size_t)n >= sizeof(sql)) {
        snprintf(d->error, sizeof(d->error), "the apps table name is too long");
        return SKT_SQL_FAIL_QUERY;
    }
    if (!(d->cur = mysql_stmt_init(d->mysql)))
        return my_fail(d, NULL);
    d->stmt[by] = d->cur;
    return my_run(d, mysql_stmt_prepare_start(&d->rc, d->cur, sql, (unsigned long)n));
}

static int
my_query_cont(void *db, int ready)
{
    my_db_t *d = db;
    int s = status_from(ready), status;
    if (d->phase == Q_PREPARE)
        status = mysql_stmt_prepare_cont(&d->rc, d->cur, s);
    else if (d->phase == Q_EXECUTE)
        status = mysql_stmt_execute_cont(&d->rc, d->cur, s);
    else
        status = mysql_stmt_store_result_cont(&d->rc, d->cur, s);
    return my_run(d, status);
}

static skt_sql_kind_t
my_kind(enum enum_field_types t)
{
    switch (t) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
    case MYSQL_TYPE_YEAR:
        return SKT_SQL_NUMBER;
    case MYSQL_TYPE_JSON:
        return SKT_SQL_JSON;
    default:
        return SKT_SQL_TEXT;
    }
}

/* Column i of the fetched row into r; a truncated one fetched again whole. */
static int
add_column(my_db_t *d, skt_sql_row_t *r, unsigned i, const MYSQL_FIELD *f)
{
    if (d->nulls[i]) {
        skt_sql_row_add(r, f->name, f->name_length, SKT_SQL_NULL, NULL, 0);
        return 0;
    }
    unsigned long len = d->lengths[i];
    if (len <= MY_COLUMN_BUF) {
        skt_sql_row_add(r, f->name, f->name_length, my_kind(f->type), d->binds[i].buffer, len);
        return 0;
    }
    if (len > r->w.max) {
        snprintf(d->error, sizeof(d->error), "column %s is too long", f->name);
        return -1;
    }
    char *whole = malloc(len);
    unsigned long got = 0;
    MYSQL_BIND b = {
        .buffer_type = MYSQL_TYPE_STRING, .buffer = whole, .buffer_length = len, .length = &got};
    if (!whole || mysql_stmt_fetch_column(d->cur, &b, i, 0)) {
        free(whole);
        snprintf(d->error, sizeof(d->error), "cannot fetch column %s", f->name);
        return -1;
    }
    skt_sql_row_add(r, f->name, f->name_length, my_kind(f->type), whole, got < len ? got : len);
    free(whole);
    return 0;
}

static int
my_row(void *db, skt_sql_row_t *r)
{
    my_db_t *d = db;
    int rc = mysql_stmt_fetch(d->cur); /* local: the result is stored */
    int got = rc == 0 || rc == MYSQL_DATA_TRUNCATED ? 1 : rc == MYSQL_NO_DATA ? 0 : -1;
    if (got < 0)
        my_fail(d, d->cur);
    MYSQL_FIELD *fields = mysql_fetch_fields(d->meta);
    for (unsigned i = 0; got == 1 && i < d->n_cols; i++)
        if (add_column(d, r, i, &fields[i]) != 0)
            got = -1;
    mysql_stmt_free_result(d->cur); /* local too, for a stored result */
    mysql_free_result(d->meta);
    d->meta = NULL;
    return got;
}

static int
my_fd(void *db)
{
    return (int)mysql_get_socket(((my_db_t *)db)->mysql);
}

static long
my_wait_ms(void *db)
{
    return (long)mysql_get_timeout_value_ms(((my_db_t *)db)->mysql);
}

static const char *
my_error(void *db)
{
    return ((my_db_t *)db)->error;
}

static void
my_close(void *db, int broken)
{
    my_db_t *d = db;
    if (broken) /* reads and writes now fail at once: mysql_close cannot wait */
        mariadb_cancel(d->mysql);
    if (d->meta)
        mysql_free_result(d->meta);
    mysql_close(d->mysql); /* detaches the statements: closing them is then local */
    for (int i = 0; i < 2; i++)
        if (d->stmt[i])
            mysql_stmt_close(d->stmt[i]);
    free(d->value);
    free(d->binds);
    free(d->lengths);
    free(d->nulls);
    free(d->bufs);
    free(d);
}

static const skt_sql_driver_t my_driver = {
    .name = "mysql",
    .quote = SKT_SQL_QUOTE_MYSQL,
    .connect_start = my_connect_start,
    .connect_cont = my_connect_cont,
    .query_start = my_query_start,
    .query_cont = my_query_cont,
    .row = my_row,
    .idle_read = NULL, /* MySQL sends nothing unasked: readable while idle is the end */
    .fd = my_fd,
    .wait_ms = my_wait_ms,
    .error = my_error,
    .close = my_close,
};

SKT_SQL_AM_PLUGIN(my_driver)
