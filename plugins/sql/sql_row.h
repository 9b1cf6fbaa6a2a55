/* sql_row.h - the pure parts the SQL app managers share: a row's columns written as the JSON
 * object text soketi/app_manager.h asks for, and table names quoted as identifiers.
 *
 * DESIGN
 * A driver hands each column as (name, kind, text): the kind says how the database typed
 * it (the driver maps its own type codes to skt_sql_kind_t), the text is what the database
 * sent in its text form. The row is written with the daemon's JSON writer (util/jsonw.c),
 * one member per column, in column order:
 *   NULL   -> null
 *   NUMBER -> the number as the database wrote it, when it is a JSON number (a NaN or an
 *             Infinity of a float column is not: it becomes a string)
 *   BOOL   -> true for PostgreSQL's "t" (and "true", "1"), else false
 *   JSON   -> the value, compact, when the text parses as JSON, else the text as a string
 *   TEXT   -> a string; text that is not UTF-8 (a binary column) is null, since a JSON
 *             text cannot carry it
 * Nothing here touches a socket; tests/check_sql_row.c feeds it columns.
 */
#ifndef SKT_PLUGINS_SQL_ROW_H
#define SKT_PLUGINS_SQL_ROW_H

#include <stddef.h>

#include "util/jsonw.h"

/* How a column's text is written (see DESIGN). */
typedef enum skt_sql_kind_e {
    SKT_SQL_NULL = 0,
    SKT_SQL_NUMBER,
    SKT_SQL_BOOL,
    SKT_SQL_JSON,
    SKT_SQL_TEXT,
} skt_sql_kind_t;

/* A row being written: a JSON writer plus how many members it has. Zero it, then
 * skt_sql_row_begin; the caller frees it with skt_sql_row_free. */
typedef struct skt_sql_row_s {
    skt_jw_t w;
    int columns;
} skt_sql_row_t;

/* Starts an empty object (max: the longest row accepted, 0 unlimited). */
void skt_sql_row_begin(skt_sql_row_t *r, size_t max);
/* Appends column name (name_len bytes) of the given kind with its text (len bytes; ignored
 * for SKT_SQL_NULL). */
void skt_sql_row_add(skt_sql_row_t *r, const char *name, size_t name_len, skt_sql_kind_t kind,
                     const char *text, size_t len);
/* Closes the object and answers its text (NUL-terminated, *len bytes; owned by r, valid until
 * skt_sql_row_free), or NULL when memory or max ran out. */
const char *skt_sql_row_end(skt_sql_row_t *r, size_t *len);
void skt_sql_row_free(skt_sql_row_t *r);

/* 1 when text (len bytes) is a JSON number (RFC 8259's grammar), else 0. */
int skt_sql_is_json_number(const char *text, size_t len);

/* Identifier quoting styles. */
typedef enum skt_sql_quote_e {
    SKT_SQL_QUOTE_MYSQL = '`', /* `name`, a backtick doubled */
    SKT_SQL_QUOTE_PG = '"',    /* "name", a double quote doubled */
} skt_sql_quote_t;

/* A table name as it goes into a statement: each dotted part (schema.table) quoted on its own,
 * as knex quotes a table name. Returns a malloc'd string the caller frees, or NULL for an
 * empty name or out of memory. */
char *skt_sql_quote_table(skt_sql_quote_t style, const char *name);

#endif
