// tests/integration/sqldb.mjs — throw-away MariaDB and PostgreSQL servers for the SQL app
// manager tests (app_manager_mysql.so, app_manager_postgres.so).
//
// DESIGN: each server is private to the test file that starts it: a fresh data directory in
// a temporary directory, TCP on 127.0.0.1 only at a free port, its Unix socket in that
// directory, fsync off (nothing here needs to survive a crash). The harness connects as the
// database's superuser over the Unix socket (MariaDB root without a password, PostgreSQL
// trust) with the servers' own command-line clients (`mariadb`, `psql`): it creates the
// database `main` (soketi's default), a user `soketi` with a password that the daemon uses
// over TCP, and loads soketi's own schema fixture (tests/fixtures/*_schema.sql, copied from
// soketi 1.6.1) as that user. PostgreSQL refuses to run as root: under uid 0 initdb and
// postgres run as the `postgres` user (setpriv, which execs, so the child's pid is the
// server's) in a directory owned by it.
//
// pause() SIGSTOPs the server (for PostgreSQL the postmaster and every backend, so that
// connections already open stall too) and resume() SIGCONTs it: a database that is down
// without refusing connections, the slowest kind. down() shuts it down (connections refused)
// and up() starts it again on its port with its data. lockApps() holds a lock on the apps
// table from a superuser session: the database answers, but no lookup returns.
// stop() resumes, shuts the server down and removes its directory; an 'exit' hook SIGKILLs whatever a failed file left running and
// removes its directories, and the next start sweeps what a killed test process left.
//
// Binaries: $MARIADBD (default mariadbd, also looked for in /usr/sbin),
// $MARIADB_INSTALL_DB, $MARIADB_CLIENT (mariadb, else mysql); $PG_BINDIR (default the newest
// /usr/lib/postgresql/N/bin) for initdb and postgres, $PSQL (psql).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { REFERENCE, sleep, stablePort } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// soketi's schemas: beside this file in the source tree (run.sh may run a copy elsewhere)
const FIXTURES = path.join(process.env.SOKETI_SRCDIR ? path.join(process.env.SOKETI_SRCDIR, 'tests') : path.join(here, '..'),
    'fixtures');
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

/** The user the daemon logs in as, over TCP, and its password. */
export const SQL_USER = 'soketi';
export const SQL_PASSWORD = 'soketi-test-pw';
export const SQL_DATABASE = 'main';

/** Removes the System V shared memory segment of a PostgreSQL killed in dir (postmaster.pid's
 *  7th line: key and id), which only a clean shutdown removes. */
function removePgShm(dir) {
    try {
        const line = fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[6] || '';
        const id = line.trim().split(/\s+/)[1];
        if (/^\d+$/.test(id)) execFileSync('ipcrm', ['-m', id], { stdio: 'ignore' });
    } catch { /* no file, or gone already */ }
}

/** Every server still running ({ pids(), dir }), for the exit hook. */
const live = new Set();
process.on('exit', () => {
    for (const s of live) {
        for (const pid of s.pids()) {
            try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        }
        removePgShm(s.dir);
        try { fs.rmSync(s.dir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
});

const alive = (pid) => {
    try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
};

/**
 * Removes what a test process killed before its exit hook ran left behind: every
 * soketi-mariadb-* / soketi-postgres-* directory whose owner (the pid in its `owner` file) is
 * gone, after SIGKILLing the server named by its pid file.
 */
function sweep() {
    for (const name of fs.readdirSync(os.tmpdir())) {
        if (!/^soketi-(mariadb|postgres)-/.test(name)) continue;
        const dir = path.join(os.tmpdir(), name);
        try {
            const owner = Number(fs.readFileSync(path.join(dir, 'owner'), 'utf8'));
            if (!owner || alive(owner)) continue;
            for (const f of ['mariadbd.pid', 'data/postmaster.pid']) {
                let pid = 0;
                try { pid = Number(fs.readFileSync(path.join(dir, f), 'utf8').split('\n')[0]); } catch { /* none */ }
                if (pid) signal([pid, ...childrenOf(pid)], 'SIGKILL');
            }
            removePgShm(dir);
            fs.rmSync(dir, { recursive: true, force: true });
        } catch { /* not ours, or being created: its owner file is not there yet */ }
    }
}

/** A fresh directory for a server, marked with this process as its owner (for sweep()). */
function serverDir(prefix) {
    sweep();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.writeFileSync(path.join(dir, 'owner'), String(process.pid));
    return dir;
}

/** name if it is a path, else the first directory of PATH (then extra) holding it, or null. */
function findBin(name, extra = []) {
    if (name.includes('/')) return fs.existsSync(name) ? name : null;
    for (const d of [...(process.env.PATH || '').split(':'), ...extra]) {
        if (d && fs.existsSync(path.join(d, name))) return path.join(d, name);
    }
    return null;
}

function pgBinDir() {
    if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
    const base = '/usr/lib/postgresql';
    let versions = [];
    try { versions = fs.readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a); } catch { /* none */ }
    return versions.length ? path.join(base, versions[0], 'bin') : null;
}

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];
const BINS = {
    mysql: () => ({
        server: findBin(process.env.MARIADBD || 'mariadbd', SBIN),
        installDb: findBin(process.env.MARIADB_INSTALL_DB || 'mariadb-install-db', SBIN),
        client: findBin(process.env.MARIADB_CLIENT || 'mariadb') || findBin('mysql'),
    }),
    postgres: () => {
        const dir = pgBinDir();
        return {
            server: dir && findBin(path.join(dir, 'postgres')),
            initdb: dir && findBin(path.join(dir, 'initdb')),
            client: findBin(process.env.PSQL || 'psql'),
        };
    },
};

/** The Debian packages that provide a kind's server and client. */
const PACKAGES = { mysql: 'mariadb-server', postgres: 'postgresql' };

/**
 * Whether the tests of kind ('mysql' or 'postgres') can run: its plugin built in
 * $SOKETI_PLUGIN_DIR_TEST and its server installed. Resolves { ok: true } or { ok: false, why }.
 */
export function sqlAvailable(kind) {
    const dir = process.env.SOKETI_PLUGIN_DIR_TEST;
    const so = `app_manager_${kind}.so`;
    const lib = kind === 'mysql' ? 'libmariadb-dev' : 'libpq-dev';
    if (!REFERENCE && process.env[`SOKETI_TEST_${kind.toUpperCase()}_BUILT`] === 'no') {
        return { ok: false, why: `soketi-c was configured without ${lib} (scripts/deps.sh)` };
    }
    if (!REFERENCE && dir && !fs.existsSync(path.join(dir, so))) {
        return { ok: false, why: `${dir}/${so} was not built (install ${lib}: scripts/deps.sh)` };
    }
    const bins = BINS[kind]();
    const missing = Object.entries(bins).filter(([, v]) => !v).map(([k]) => k);
    if (missing.length) {
        return { ok: false, why: `the ${kind} ${missing.join(', ')} binaries are not installed (${PACKAGES[kind]}: scripts/deps.sh --test)` };
    }
    if (kind === 'postgres' && IS_ROOT && !findBin('setpriv', SBIN)) {
        return { ok: false, why: 'setpriv (util-linux) is needed to run postgres as a non-root user' };
    }
    return { ok: true };
}

/** The `skip` option of a SQL test file: false when it can run; the reason when skipping was
 *  allowed (SOKETI_TEST_ALLOW_NO_SQL=1); otherwise it throws, failing the file. */
export function sqlSkip(kind) {
    const a = sqlAvailable(kind);
    if (a.ok) return false;
    if (['1', 'true', 'yes'].includes(String(process.env.SOKETI_TEST_ALLOW_NO_SQL || '').toLowerCase())) return a.why;
    throw new Error(`the ${kind} app manager tests cannot run: ${a.why} (set SOKETI_TEST_ALLOW_NO_SQL=1 to skip them)`);
}

/** Runs a command to completion; resolves stdout; rejects with its output on failure or
 *  after timeoutMs. input: text written to its stdin. */
function run(cmd, args, { input, env, timeoutMs = 15000 } = {}) {
    return new Promise((resolve, reject) => {
        const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
        let out = '';
        let err = '';
        p.stdout.on('data', (d) => { out += d; });
        p.stderr.on('data', (d) => { err += d; });
        const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
        p.on('error', (e) => { clearTimeout(timer); reject(e); });
        p.on('close', (code, signal) => {
            clearTimeout(timer);
            if (code === 0) resolve(out);
            else reject(new Error(`${path.basename(cmd)} ${args.join(' ')}: ${signal || `exit ${code}`}\n${err}${out}`));
        });
        p.stdin.on('error', () => { /* it exited early: reported by close */ });
        p.stdin.end(input ?? '');
    });
}

/** The pids whose parent is pid (from /proc). */
function childrenOf(pid) {
    const out = [];
    for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            if (ppid === pid) out.push(Number(d));
        } catch { /* exited meanwhile */ }
    }
    return out;
}

function signal(pids, sig) {
    for (const pid of pids) {
        try { process.kill(pid, sig); } catch { /* gone */ }
    }
}

/** A SQL string literal (MariaDB also reads backslashes as escapes by default). */
function literal(kind, v) {
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'boolean') return v ? '1' : '0';
    if (typeof v === 'number') return String(v);
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    const esc = kind === 'mysql' ? s.replace(/\\/g, '\\\\') : s;
    return `'${esc.replace(/'/g, "''")}'`;
}

const ident = (kind, name) => (kind === 'mysql' ? `\`${name}\`` : `"${name}"`);

/** soketi's fixture row (tests/fixtures/*_schema.sql) with its id, key and secret. */
export const FIXTURE_ROW = Object.freeze({
    id: 'app-id', key: 'app-key', secret: 'app-secret', max_connections: 200, enabled: 1,
    enable_client_messages: 1, max_backend_events_per_sec: -1, max_client_events_per_sec: -1,
    max_read_req_per_sec: -1, webhooks: '[]', max_presence_members_per_channel: null,
    max_presence_member_size_in_kb: null, max_channel_name_length: null, max_event_channels_at_once: null,
    max_event_name_length: null, max_event_payload_in_kb: null, max_event_batch_size: null,
    enable_user_authentication: 0,
});

/** The statements that take and release a lock on the apps table that holds every reader. */
const LOCK = {
    mysql: ['LOCK TABLES apps WRITE;', 'UNLOCK TABLES;'],
    postgres: ['BEGIN; LOCK TABLE apps IN ACCESS EXCLUSIVE MODE;', 'COMMIT;'],
};
/** How many of the daemon user's statements wait for such a lock right now. */
const WAITING = {
    mysql: `SELECT count(*) FROM information_schema.processlist WHERE user = '${SQL_USER}' AND state LIKE 'Waiting for%lock';`,
    postgres: `SELECT count(*) FROM pg_stat_activity WHERE usename = '${SQL_USER}' AND wait_event_type = 'Lock';`,
};

/**
 * Starts a superuser session (session: [cmd, args] of the client in `main`, reading SQL on
 * its stdin) that locks the apps table; resolves once it holds the lock, with release().
 */
async function lockApps(kind, session) {
    const [lock, unlock] = LOCK[kind];
    const p = spawn(session[0], session[1], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => p.on('close', resolve));
    p.stdin.write(`${lock}\nSELECT 'locked';\n`);
    const deadline = Date.now() + 10000;
    while (!/^locked$/m.test(out)) {
        if (p.exitCode !== null || Date.now() > deadline) {
            p.kill('SIGKILL');
            throw new Error(`could not lock the apps table: ${out}`);
        }
        await sleep(10);
    }
    let released = null;
    return {
        release() {
            if (!released) {
                p.stdin.end(`${unlock}\n`);
                const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
                released = exited.then(() => clearTimeout(timer));
            }
            return released;
        },
    };
}

/** The methods both kinds share, given how to run SQL as the superuser (sqlAdmin) and the
 *  client's command line of a superuser session in `main` (session). */
function sqlMethods(db, sqlAdmin, session) {
    const table = ident(db.kind, 'apps');
    const set = (fields) => Object.entries(fields).map(([k, v]) => `${ident(db.kind, k)} = ${literal(db.kind, v)}`).join(', ');
    return {
        /** Locks the apps table until release(): the database answers, but no lookup does. */
        lockApps: () => lockApps(db.kind, session),
        /** Resolves how many statements of the daemon's user wait for that lock. */
        waitingLookups: async () => Number((await sqlAdmin(WAITING[db.kind], SQL_DATABASE)).trim()),
        /** Runs SQL in `main` as the superuser; resolves the rows as text (tab or | separated). */
        query: (sql) => sqlAdmin(sql, SQL_DATABASE),
        /** Inserts a row of soketi's apps table: FIXTURE_ROW with fields over it. */
        insertApp(fields) {
            const row = { ...FIXTURE_ROW, ...fields };
            const cols = Object.keys(row).map((k) => ident(db.kind, k)).join(', ');
            const vals = Object.values(row).map((v) => literal(db.kind, v)).join(', ');
            return sqlAdmin(`INSERT INTO ${table} (${cols}) VALUES (${vals});`, SQL_DATABASE);
        },
        updateApp: (id, fields) => sqlAdmin(`UPDATE ${table} SET ${set(fields)} WHERE id = ${literal(db.kind, id)};`, SQL_DATABASE),
        deleteApp: (id) => sqlAdmin(`DELETE FROM ${table} WHERE id = ${literal(db.kind, id)};`, SQL_DATABASE),
        /** The daemon's environment for this database (soketi's SOKETI_DB_* names). */
        env(extra = {}) {
            const K = db.kind.toUpperCase();
            return {
                SOKETI_APP_MANAGER_DRIVER: db.kind,
                [`SOKETI_DB_${K}_HOST`]: '127.0.0.1',
                [`SOKETI_DB_${K}_PORT`]: String(db.port),
                [`SOKETI_DB_${K}_USERNAME`]: SQL_USER,
                [`SOKETI_DB_${K}_PASSWORD`]: SQL_PASSWORD,
                [`SOKETI_DB_${K}_DATABASE`]: SQL_DATABASE,
                ...extra,
            };
        },
    };
}

/** Spawns a server process, collecting its output; returns { proc, output(), exited }. */
function spawnServer(cmd, args) {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d) => { output += d; });
    proc.stderr.on('data', (d) => { output += d; });
    proc.on('error', (e) => { output += `spawn error: ${e.message}\n`; });
    const st = { done: false };
    st.promise = new Promise((resolve) => proc.on('exit', () => { st.done = true; resolve(); }));
    return { proc, output: () => output, exited: st };
}

/** Polls probe() until it resolves; throws with the server's output if it exits or times out. */
async function waitReady(name, srv, probe, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let last = null;
    for (;;) {
        if (srv.exited.done) throw new Error(`${name} exited before it was ready:\n${srv.output()}`);
        try { await probe(); return; } catch (e) { last = e; }
        if (Date.now() > deadline) throw new Error(`${name} not ready within ${timeoutMs} ms: ${last?.message}\n${srv.output()}`);
        await sleep(50);
    }
}

/**
 * The process side both kinds share, set on db: launch() spawns argv ([cmd, args]) and
 * waits until probe() resolves; pause() / resume() SIGSTOP / SIGCONT the server and its
 * children (PostgreSQL's backends: all of them stop, or open connections keep answering);
 * down() shuts it down (stopSignal, SIGKILL after 5 s) keeping its data, up() starts it
 * again on the same port; stop() shuts it down and removes its directory.
 */
function serverControl(db, { name, argv, probe, stopSignal, readyTimeoutMs }) {
    let srv = null;
    let paused = [];
    db.pids = () => (srv && !srv.exited.done ? [srv.proc.pid, ...childrenOf(srv.proc.pid)] : []);
    const launch = async () => {
        srv = spawnServer(...argv);
        db.pid = srv.proc.pid;
        await waitReady(name, srv, probe, readyTimeoutMs);
    };
    const down = async () => {
        const pids = [...paused, ...db.pids()];
        paused = [];
        signal(pids, 'SIGCONT');
        if (srv && !srv.exited.done) {
            signal([srv.proc.pid], stopSignal);
            const timer = setTimeout(() => signal(db.pids().concat(pids), 'SIGKILL'), 5000);
            await srv.exited.promise;
            clearTimeout(timer);
        }
    };
    return {
        launch,
        output: () => srv?.output() ?? '',
        pause() {
            signal([srv.proc.pid], 'SIGSTOP'); // first: it forks nothing while the others stop
            paused = db.pids();
            signal(paused, 'SIGSTOP');
        },
        resume() {
            signal([...paused, ...db.pids()], 'SIGCONT');
            paused = [];
        },
        down,
        up: launch,
        async stop() {
            live.delete(db);
            await down();
            removePgShm(db.dir);
            fs.rmSync(db.dir, { recursive: true, force: true });
        },
    };
}

/** What a start that failed half-way leaves: killed and removed. */
function abandon(db) {
    signal(db.pids(), 'SIGKILL');
    removePgShm(db.dir);
    live.delete(db);
    fs.rmSync(db.dir, { recursive: true, force: true });
}

/**
 * A private mariadbd on 127.0.0.1:<free port> with `main`, the user soketi and soketi's
 * apps table and fixture row. Resolves { kind: 'mysql', port, dir, pid, query(sql),
 * insertApp(fields), updateApp(id, fields), deleteApp(id), lockApps(), waitingLookups(),
 * env(extra), pause(), resume(), down(), up(), stop(), output() }.
 */
export async function startMariadb({ readyTimeoutMs = 20000 } = {}) {
    const bins = BINS.mysql();
    const dir = serverDir('soketi-mariadb-');
    const data = path.join(dir, 'data');
    const sock = path.join(dir, 'sock');
    const port = await stablePort(); // outside bind(0)'s range: up() starts it again there
    const user = IS_ROOT ? ['--user=root'] : [];
    const small = ['--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M', '--innodb-flush-log-at-trx-commit=0',
        '--performance-schema=0', '--skip-log-bin', '--skip-name-resolve'];
    const adminArgs = ['--no-defaults', `--socket=${sock}`, '--user=root', '--batch', '--skip-column-names'];
    const admin = (sql, database = '') => run(bins.client, [...adminArgs, ...(database ? [database] : [])], { input: sql });
    const db = { kind: 'mysql', port, dir };
    const control = serverControl(db, {
        name: 'mariadbd',
        argv: [bins.server, ['--no-defaults', `--datadir=${data}`, `--socket=${sock}`,
            `--pid-file=${path.join(dir, 'mariadbd.pid')}`, `--port=${port}`, '--bind-address=127.0.0.1',
            '--skip-networking=0', ...user, ...small]],
        probe: () => admin('SELECT 1;'),
        stopSignal: 'SIGTERM',
        readyTimeoutMs,
    });
    live.add(db);
    try {
        await run(bins.installDb, ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal',
            '--skip-test-db', ...small], { timeoutMs: 60000 });
        await control.launch();
        await admin(`CREATE DATABASE ${SQL_DATABASE};
            CREATE USER '${SQL_USER}'@'%' IDENTIFIED BY '${SQL_PASSWORD}';
            GRANT ALL ON ${SQL_DATABASE}.* TO '${SQL_USER}'@'%';`);
        // the schema as the daemon's user, over TCP: its login works before any test relies on it
        await run(bins.client, ['--no-defaults', '--host=127.0.0.1', `--port=${port}`, `--user=${SQL_USER}`,
            `--password=${SQL_PASSWORD}`, SQL_DATABASE], { input: fs.readFileSync(path.join(FIXTURES, 'mysql_schema.sql'), 'utf8') });
    } catch (e) {
        abandon(db);
        throw e;
    }
    return Object.assign(db, sqlMethods(db, admin, [bins.client, [...adminArgs, '--unbuffered', SQL_DATABASE]]), control);
}

/**
 * A private PostgreSQL on 127.0.0.1:<free port> (as the postgres user under root) with
 * `main` owned by the user soketi (password login over TCP) and soketi's apps table and
 * fixture row. Resolves the same object as startMariadb, kind 'postgres'.
 */
export async function startPostgres({ readyTimeoutMs = 20000 } = {}) {
    const bins = BINS.postgres();
    const dir = serverDir('soketi-postgres-');
    const data = path.join(dir, 'data');
    const port = await stablePort();
    let asPg = [];
    if (IS_ROOT) {
        const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
        fs.chownSync(dir, uid, gid);
        asPg = [findBin('setpriv', SBIN), '--reuid=postgres', '--regid=postgres', '--init-groups', '--'];
    }
    const asServer = (cmd, args) => (asPg.length ? [asPg[0], [...asPg.slice(1), cmd, ...args]] : [cmd, args]);
    const adminArgs = (database) => ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(port),
        '-U', 'postgres', '-d', database];
    const admin = (sql, database = 'postgres') => run(bins.client, adminArgs(database), { input: sql });
    const db = { kind: 'postgres', port, dir };
    const control = serverControl(db, {
        name: 'postgres',
        argv: asServer(bins.server, ['-D', data, '-k', dir, '-h', '127.0.0.1', '-p', String(port),
            '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
            '-c', 'shared_buffers=16MB', '-c', 'max_connections=50']),
        probe: () => admin('SELECT 1;'),
        stopSignal: 'SIGINT', // fast shutdown: it removes its shared memory
        readyTimeoutMs,
    });
    live.add(db);
    try {
        await run(...asServer(bins.initdb, ['-D', data, '-U', 'postgres', '--auth-local=trust',
            '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync']), { timeoutMs: 60000 });
        await control.launch();
        await admin(`CREATE ROLE ${SQL_USER} LOGIN PASSWORD '${SQL_PASSWORD}';`);
        await admin(`CREATE DATABASE ${SQL_DATABASE} OWNER ${SQL_USER};`);
        await run(bins.client, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port),
            '-U', SQL_USER, '-d', SQL_DATABASE], {
            input: fs.readFileSync(path.join(FIXTURES, 'postgres_schema.sql'), 'utf8'),
            env: { ...process.env, PGPASSWORD: SQL_PASSWORD },
        });
    } catch (e) {
        abandon(db);
        throw e;
    }
    return Object.assign(db, sqlMethods(db, admin, [bins.client, adminArgs(SQL_DATABASE)]), control);
}

/** startMariadb() for 'mysql', startPostgres() for 'postgres'. */
export function startSqlDb(kind, opts) {
    return kind === 'mysql' ? startMariadb(opts) : startPostgres(opts);
}
