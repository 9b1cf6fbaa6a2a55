/* check_sql_servers.c - MariaDB and PostgreSQL servers for the tests (check_sql_servers.h). */
#include "check_sql_servers.h"
#include "test_port.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char templates[2][128];
/* Every directory of this run is made in this one (/tmp/skt-sql-XXXXXX), so that
 * sql_servers_cleanup finds everything: Check's forked tests end with _exit() when they
 * fail, before they remove what they made. */
static char run_dir[64];

static const char *
mariadbd_bin(void)
{
    const char *b = getenv("MARIADBD");
    return b && *b ? b : "/usr/sbin/mariadbd";
}

/* PostgreSQL's bin directory: $PG_BINDIR, else the newest /usr/lib/postgresql/N/bin. */
static const char *
pg_bindir(void)
{
    static char dir[128];
    const char *b = getenv("PG_BINDIR");
    if (b && *b)
        return b;
    for (int v = 20; v >= 12 && !dir[0]; v--) {
        char p[160];
        snprintf(p, sizeof(p), "/usr/lib/postgresql/%d/bin/postgres", v);
        if (access(p, X_OK) == 0)
            snprintf(dir, sizeof(dir), "/usr/lib/postgresql/%d/bin", v);
    }
    return dir;
}

int
sql_server_available(sql_kind_t kind)
{
    if (kind == SQL_MARIADB)
        return access(mariadbd_bin(), X_OK) == 0 && access("/usr/bin/mariadb", X_OK) == 0;
    return pg_bindir()[0] && access("/usr/bin/psql", X_OK) == 0;
}

/* As root, PostgreSQL's files and processes belong to the postgres user. */
static const struct passwd *
pg_user(void)
{
    return geteuid() == 0 ? getpwnam("postgres") : NULL;
}

static void
become_pg_user(void)
{
    const struct passwd *pw = pg_user();
    if (pw && (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0))
        _exit(126);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* changing user cleared it */
}

/* Runs argv with its output in log, waits; its exit status. With report set, a failure shows
 * the log's end on stderr. */
static int
run(char *const argv[], int as_pg, const char *input_file, const char *log, int report)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if ((input_file && !freopen(input_file, "r", stdin)) || !freopen(log, "w", stdout) ||
            dup2(fileno(stdout), 2) < 0)
            _exit(125);
        if (as_pg) /* after opening the log: the run's directory is root's */
            become_pg_user();
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (rc != 0 && report) {
        fprintf(stderr, "check_sql_servers: %s failed (%d):\n", argv[0], rc);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "tail -20 %s >&2", log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no log)\n");
    }
    return rc;
}

/* Gives dir (recursively) to the postgres user when running as root. */
static int
chown_pg(const char *dir)
{
    const struct passwd *pw = pg_user();
    if (!pw)
        return 0;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "chown -R %u:%u '%s'", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid,
             dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Execs the server of s->kind on s->dir and s->port (in the child). */
static void
exec_server(const sql_server_t *s)
{
    char port[16], datadir[160], sock[160], pid[160];
    snprintf(port, sizeof(port), "%d", s->port);
    if (s->kind == SQL_MARIADB) {
        snprintf(datadir, sizeof(datadir), "--datadir=%s", s->dir);
        snprintf(sock, sizeof(sock), "--socket=%s/mysqld.sock", s->dir);
        snprintf(pid, sizeof(pid), "--pid-file=%s/mysqld.pid", s->dir);
        char portopt[32];
        snprintf(portopt, sizeof(portopt), "--port=%d", s->port);
        const char *argv[] = {mariadbd_bin(),
                              "--no-defaults",
                              datadir,
                              sock,
                              pid,
                              portopt,
                              "--bind-address=127.0.0.1",
                              "--user=root",
                              "--skip-grant-tables",
                              "--skip-log-bin",
                              "--innodb-buffer-pool-size=16M",
                              "--innodb-log-file-size=4M",
                              "--skip-name-resolve",
                              "--max-connections=200",
                              NULL};
        execv(argv[0], (char *const *)argv);
    } else {
        become_pg_user();
        char bin[160];
        snprintf(bin, sizeof(bin), "%s/postgres", pg_bindir());
        const char *argv[] = {bin,
                              "-D",
                              s->dir,
                              "-p",
                              port,
                              "-k",
                              s->dir,
                              "-c",
                              "listen_addresses=127.0.0.1",
                              "-c",
                              "fsync=off",
                              "-c",
                              "max_connections=200",
                              NULL};
        execv(argv[0], (char *const *)argv);
    }
    _exit(127);
}

static int exec_in(const sql_server_t *s, const char *db, const char *sql, int report);

/* 1 once the server answers a trivial statement through its client (PostgreSQL's database
 * "main" may not exist yet: its "postgres" always does). */
static int
server_answers(const sql_server_t *s)
{
    return exec_in(s, s->kind == SQL_MARIADB ? "main" : "postgres", "SELECT 1", 0) == 0;
}

/* Forks the server, waits until it answers. */
static int
launch(sql_server_t *s)
{
    pid_t parent = getpid();
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setpgid(0, 0);
        char log[200];
        snprintf(log, sizeof(log), "%s.log", s->dir);
        if (getppid() != parent || !freopen("/dev/null", "r", stdin) ||
            !freopen(log, "a", stdout) || dup2(fileno(stdout), 2) < 0)
            _exit(1);
        exec_server(s);
    }
    setpgid(s->pid, s->pid);
    for (int i = 0; i < 200; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            fprintf(stderr, "check_sql_servers: the server on %s exited\n", s->dir);
            s->pid = 0;
            return -1;
        }
        if (server_answers(s))
            return 0;
        usleep(50000);
    }
    fprintf(stderr, "check_sql_servers: the server on %s does not answer\n", s->dir);
    return -1;
}

int
sql_server_exec(const sql_server_t *s, const char *sql)
{
    return exec_in(s, "main", sql, 1);
}

long
sql_server_query_long(const sql_server_t *s, const char *sql)
{
    if (exec_in(s, "main", sql, 1) != 0)
        return -1;
    char log[200], out[64] = "";
    snprintf(log, sizeof(log), "%s.client.log", s->dir);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
    if (f)
        fclose(f);
    out[n] = '\0';
    char *end;
    long v = strtol(out, &end, 10);
    return end != out ? v : -1;
}

/* Runs sql in database db with the kind's client (unaligned, tuples only). */
static int
exec_in(const sql_server_t *s, const char *db, const char *sql, int report)
{
    char port[16], file[200], log[200];
    snprintf(port, sizeof(port), "%d", s->port);
    snprintf(file, sizeof(file), "%s.sql", s->dir);
    snprintf(log, sizeof(log), "%s.client.log", s->dir);
    FILE *f = fopen(file, "w");
    if (!f)
        return -1;
    fputs(sql, f);
    fclose(f);
    if (s->kind == SQL_MARIADB) {
        char *const argv[] = {"/usr/bin/mariadb",
                              "--no-defaults",
                              "-N",
                              "-B",
                              "-h",
                              "127.0.0.1",
                              "-P",
                              port,
                              "-u",
                              "root",
                              "--connect-timeout=2",
                              (char *)db,
                              NULL};
        return run(argv, 0, file, log, report);
    }
    char *const argv[] = {"/usr/bin/psql",   "-X", "-q",        "-t", "-A", "-v",
                          "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port, "-U",
                          "postgres",        "-d", (char *)db,  NULL};
    return run(argv, 0, file, log, report);
}

/* A fresh directory <run_dir>/<what>-XXXXXX into dir (world-searchable: PostgreSQL's
 * files belong to its user). */
static int
make_dir(char *dir, size_t cap, const char *what)
{
    if (!run_dir[0]) {
        snprintf(run_dir, sizeof(run_dir), "/tmp/skt-sql-XXXXXX");
        if (!mkdtemp(run_dir) || chmod(run_dir, 0755) != 0) {
            run_dir[0] = '\0';
            return -1;
        }
    }
    snprintf(dir, cap, "%s/%s-XXXXXX", run_dir, what);
    return mkdtemp(dir) ? 0 : -1;
}

/* Initialises a data directory of kind in dir, with database "main". */
static int
init_datadir(sql_kind_t kind, const char *dir)
{
    char log[200];
    snprintf(log, sizeof(log), "%s.init.log", dir);
    if (kind == SQL_MARIADB) {
        char datadir[160];
        snprintf(datadir, sizeof(datadir), "--datadir=%s", dir);
        char *const argv[] = {"/usr/bin/mariadb-install-db",
                              "--no-defaults",
                              datadir,
                              "--user=root",
                              "--auth-root-authentication-method=normal",
                              "--skip-test-db",
                              "--innodb-log-file-size=4M",
                              NULL};
        return run(argv, 0, NULL, log, 1);
    }
    char bin[160];
    snprintf(bin, sizeof(bin), "%s/initdb", pg_bindir());
    char *const argv[] = {bin,  "-D",   (char *)dir, "-U",         "postgres", "--auth=trust",
                          "-E", "UTF8", "--no-sync", "--locale=C", NULL};
    if (chown_pg(dir) != 0)
        return -1;
    return run(argv, 1, NULL, log, 1);
}

/* Stops s with SIGTERM (a clean shutdown, so its copy starts without recovery). */
static void
shutdown_server(sql_server_t *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

int
sql_template_make(sql_kind_t kind, const char *fixtures_dir, const char *setup_sql)
{
    if (templates[kind][0])
        return 0;
    sql_server_t s = {.kind = kind};
    if (make_dir(s.dir, sizeof(s.dir), kind == SQL_MARIADB ? "mariadb" : "pg") != 0 ||
        init_datadir(kind, s.dir) != 0)
        return -1;
    s.port = test_port(0);
    /* The database "main" is made through the server's default database first. */
    char schema[300], *text = NULL;
    snprintf(schema, sizeof(schema), "%s/%s_schema.sql", fixtures_dir,
             kind == SQL_MARIADB ? "mysql" : "postgres");
    FILE *f = fopen(schema, "r");
    size_t len = 0;
    if (f) {
        text = calloc(1, 1 << 16);
        len = text ? fread(text, 1, (1 << 16) - 1, f) : 0;
        fclose(f);
    }
    int rc = text && len ? 0 : -1;
    if (rc == 0 && kind == SQL_MARIADB) {
        /* mariadbd needs database "main" before the client connects to it. */
        char main_dir[200];
        snprintf(main_dir, sizeof(main_dir), "%s/main", s.dir);
        rc = mkdir(main_dir, 0700);
    }
    if (rc == 0)
        rc = launch(&s);
    if (rc == 0 && kind == SQL_POSTGRES)
        rc = exec_in(&s, "postgres", "CREATE DATABASE main", 1);
    if (rc == 0)
        rc = sql_server_exec(&s, text);
    if (rc == 0 && setup_sql)
        rc = sql_server_exec(&s, setup_sql);
    free(text);
    if (s.pid > 0)
        shutdown_server(&s);
    if (rc == 0)
        snprintf(templates[kind], sizeof(templates[kind]), "%s", s.dir);
    return rc;
}

/* Kills every process working in run_dir (a server a failed test left, its backends). */
static void
kill_run_processes(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t n = strlen(run_dir);
    while (d && (e = readdir(d))) {
        char link[300], cwd[300];
        snprintf(link, sizeof(link), "/proc/%s/cwd", e->d_name);
        ssize_t len =
            e->d_name[0] >= '1' && e->d_name[0] <= '9' ? readlink(link, cwd, sizeof(cwd) - 1) : -1;
        if (len > (ssize_t)n && strncmp(cwd, run_dir, n) == 0 && cwd[n] == '/')
            kill((pid_t)atoi(e->d_name), SIGKILL);
    }
    if (d)
        closedir(d);
}

void
sql_servers_cleanup(void)
{
    if (!run_dir[0])
        return;
    kill_run_processes();
    usleep(100000);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", run_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "check_sql_servers: cannot remove %s\n", run_dir);
    run_dir[0] = '\0';
    templates[0][0] = templates[1][0] = '\0';
}

int
sql_server_start(sql_kind_t kind, sql_server_t *s)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    if (!templates[kind][0] ||
        make_dir(s->dir, sizeof(s->dir), kind == SQL_MARIADB ? "mariadb" : "pg") != 0)
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/' && rm -f '%s'/*.pid '%s'/postmaster.pid",
             templates[kind], s->dir, s->dir, s->dir);
    if (system(cmd) != 0 || (kind == SQL_POSTGRES && chown_pg(s->dir) != 0) ||
        (kind == SQL_POSTGRES && chmod(s->dir, 0700) != 0))
        return -1;
    s->port = test_port(0);
    return launch(s);
}

int
sql_server_restart(sql_server_t *s)
{
    return launch(s);
}

/* Sends sig to pid's children (PostgreSQL's backends each call setsid(): not in its group). */
static void
signal_children(pid_t pid, int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], stat[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? fopen(path, "r") : NULL;
        size_t n = f ? fread(stat, 1, sizeof(stat) - 1, f) : 0;
        if (f)
            fclose(f);
        stat[n] = '\0';
        const char *close_paren = strrchr(stat, ')'); /* "pid (comm) state ppid ..." */
        int ppid = 0;
        if (close_paren && sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == pid)
            kill((pid_t)atoi(e->d_name), sig);
    }
    if (d)
        closedir(d);
}

/* 1 when every thread of pid is stopped (SIGSTOP reaches a process's threads a little
 * after kill() returns: a thread awake on another CPU could still answer). */
static int
all_stopped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    struct dirent *e;
    int stopped = d != NULL;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char file[400], stat[512];
        snprintf(file, sizeof(file), "%s/%s/stat", path, e->d_name);
        FILE *f = fopen(file, "r");
        size_t n = f ? fread(stat, 1, sizeof(stat) - 1, f) : 0;
        if (f)
            fclose(f);
        stat[n] = '\0';
        const char *close_paren = strrchr(stat, ')');
        if (close_paren && close_paren[1] == ' ' && close_paren[2] != 'T')
            stopped = 0;
    }
    if (d)
        closedir(d);
    return stopped;
}

void
sql_server_signal(sql_server_t *s, int sig)
{
    if (s->pid <= 0)
        return;
    /* Stopped first, the server forks nothing new meanwhile; its children are signalled
     * while they are still its children (once it is dead, they are init's). */
    if (sig != SIGCONT)
        kill(-s->pid, SIGSTOP);
    signal_children(s->pid, sig);
    kill(-s->pid, sig);
    for (int i = 0; sig == SIGSTOP && i < 100 && !all_stopped(s->pid); i++)
        usleep(1000);
}

void
sql_server_kill(sql_server_t *s)
{
    if (s->pid <= 0)
        return;
    sql_server_signal(s, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    usleep(100000); /* its backends' sockets close */
}

void
sql_server_remove(sql_server_t *s)
{
    sql_server_kill(s);
    if (s->dir[0]) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'.*", s->dir, s->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "check_sql_servers: cannot remove %s\n", s->dir);
    }
    s->dir[0] = '\0';
}
