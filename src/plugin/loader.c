/* loader.c - finds, opens, negotiates with and initialises plugins: adapters and app managers.
 *
 * DESIGN
 * Both kinds of plugin (include/soketi/adapter.h, include/soketi/app_manager.h) have the same
 * life: a file named <prefix><driver>.so, three entry points (version, init, cleanup), a
 * version negotiation, a host table the plugin keeps and an instance whose ops it fills. What
 * differs is described by a plugin_kind_t (file prefix, symbol names, versions spoken, drivers
 * soketi knows); opening (dlopen + the three symbols), negotiating and explaining a missing
 * file are written once for both and shared by loading and by skt_plugin_list, so
 * `soketi plugins` reports exactly what loading would refuse before init. Every refusal path
 * closes what it opened, in reverse order: cleanup (only when init succeeded), dlclose, free.
 *
 * The versions a host speaks are one static list per kind, newest first. When an ABI grows
 * to version 2, 2 goes first and 1 stays while the host still supports plugins built for it;
 * each op of an ops table records the version that made it required, so a plugin is checked
 * against the ops of the version it negotiated.
 */
#include "plugin/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <soketi/app_manager.h>

#include "util/log.h"

#define PLUGIN_SUFFIX ".so"

/* How far past the newest version the host speaks to ask a refusing plugin which version
 * it does speak, so that the refusal can name it. */
#define PLUGIN_ABI_PROBE_AHEAD 32

/* The ABI versions this host speaks, newest first, per kind. */
static const int plugin_abi_versions[] = {SOKETI_ADAPTER_ABI_VERSION};
static const int plugin_am_abi_versions[] = {SOKETI_APP_MANAGER_ABI_VERSION};
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* One op of soketi_adapter_ops_t and the ABI version from which it is required. */
typedef struct plugin_op_s {
    const char *name;
    size_t offset;
    int since;
} plugin_op_t;

#define PLUGIN_OP(op, ver)                                                                         \
    {                                                                                              \
#op, offsetof(soketi_adapter_ops_t, op), ver                                               \
    }

static const plugin_op_t plugin_ops[] = {
    PLUGIN_OP(broadcast, 1),
    PLUGIN_OP(sockets_count, 1),
    PLUGIN_OP(channel_sockets_count, 1),
    PLUGIN_OP(channel_members_count, 1),
    PLUGIN_OP(is_in_channel, 1),
    PLUGIN_OP(channels, 1),
    PLUGIN_OP(channel_members, 1),
    PLUGIN_OP(sockets, 1),
    PLUGIN_OP(channel_sockets, 1),
    PLUGIN_OP(terminate_user_connections, 1),
};

static const plugin_op_t plugin_am_ops[] = {
    {"find", offsetof(soketi_app_manager_ops_t, find), 1},
};

/* Every op is a function pointer; this is the type they are read through. */
typedef void (*plugin_any_fn)(void);

/* Drivers soketi knows of, so that a missing file can be explained: built says whether
 * the driver exists yet, package names the package that ships it when soketi does not. */
typedef struct plugin_known_s {
    const char *driver;
    const char *package;
    int built;
} plugin_known_t;

static const plugin_known_t plugin_known[] = {
    {"local", NULL, 1},                   /* part of soketi itself */
    {"redis", "soketi-redis", 1},         /* a package of its own */
    {"redis-cluster", "soketi-redis", 1}, /* the same package */
    {"nats", "soketi-nats", 1},           /* a package of its own (libnats) */
    {"cluster", NULL, 1},                 /* part of soketi itself */
};

static const plugin_known_t plugin_am_known[] = {
    {"mysql", "soketi-mysql", 1},       /* MariaDB Connector/C */
    {"postgres", "soketi-postgres", 1}, /* libpq */
};

/* What differs between the kinds of plugin. */
typedef struct plugin_kind_s {
    const char *noun;    /* "adapter", "app manager": for messages */
    const char *prefix;  /* of the file name */
    const char *syms[3]; /* version, init, cleanup */
    const int *versions; /* spoken, newest first */
    int nversions;
    const plugin_known_t *known;
    size_t nknown;
    const plugin_op_t *ops; /* what init must fill */
    size_t nops;
} plugin_kind_t;

static const plugin_kind_t kind_adapter = {
    "adapter",
    "adapter_",
    {"soketi_adapter_version", "soketi_adapter_init", "soketi_adapter_cleanup"},
    plugin_abi_versions,
    (int)COUNT_OF(plugin_abi_versions),
    plugin_known,
    COUNT_OF(plugin_known),
    plugin_ops,
    COUNT_OF(plugin_ops),
};

static const plugin_kind_t kind_app_manager = {
    "app manager",
    "app_manager_",
    {"soketi_app_manager_version", "soketi_app_manager_init", "soketi_app_manager_cleanup"},
    plugin_am_abi_versions,
    (int)COUNT_OF(plugin_am_abi_versions),
    plugin_am_known,
    COUNT_OF(plugin_am_known),
    plugin_am_ops,
    COUNT_OF(plugin_am_ops),
};

/* The three entry points of a plugin; init and cleanup are typed by its kind when called
 * (both kinds' version functions have the same type). */
typedef struct plugin_syms_s {
    soketi_adapter_version_fn version;
    void *init, *cleanup;
} plugin_syms_t;

struct skt_plugin_s {
    const plugin_kind_t *kind;
    void *handle;
    void *cleanup; /* the kind's cleanup function */
    int abi;
    char *path;
    /* The plugin's private copies of the host table (it may keep a pointer to them) and
     * the instance it fills (zeroed, size set by us): one pair per kind. */
    soketi_host_t host;
    soketi_adapter_t adapter;
    soketi_app_manager_host_t am_host;
    soketi_app_manager_t am;
};

/* Writes a refusal into err without ever overflowing it, so that every failure path can
 * report with one call whatever buffer the caller gave. */
__attribute__((format(printf, 3, 4))) static void
plugin_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Closes and frees a plugin whose cleanup has run or whose init never succeeded. */
static void
plugin_free(skt_plugin_t *p)
{
    if (p->handle)
        dlclose(p->handle);
    free(p->path);
    free(p);
}

/* Driver names become file names: allowing only these characters keeps a configured name
 * from reaching outside the plugin directory. */
static int
plugin_driver_valid(const char *driver)
{
    if (!driver || !*driver)
        return 0;
    for (const char *c = driver; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_'))
            return 0;
    }
    return 1;
}

/* Compares driver names the way the file system sees them: '-' and '_' are the same. */
static int
plugin_driver_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a == '_' ? '-' : *a, cb = *b == '_' ? '-' : *b;
        if (ca != cb)
            return 0;
    }
    return *a == *b;
}

/* Returns "<dir>/<prefix><name><suffix>" in a new string (no doubled '/'; an empty dir is
 * "."), with each '-' of name written as '_' when dash_to_underscore is set; NULL when out
 * of memory. The '/' also keeps dlopen from searching the library path. */
static char *
plugin_path_new(const char *dir, const char *prefix, const char *name, const char *suffix,
                int dash_to_underscore)
{
    size_t dlen = strlen(dir);
    const char *sep = dlen == 0 ? "./" : dir[dlen - 1] == '/' ? "" : "/";
    size_t len = dlen + strlen(sep) + strlen(prefix) + strlen(name) + strlen(suffix) + 1;
    char *path = malloc(len);
    if (!path)
        return NULL;
    snprintf(path, len, "%s%s%s%s%s", dir, sep, prefix, name, suffix);
    if (dash_to_underscore) {
        for (char *c = path + dlen + strlen(sep) + strlen(prefix); *c; c++)
            if (*c == '-')
                *c = '_';
    }
    return path;
}

/* Explains a missing plugin file: which package provides a driver soketi knows, or that
 * it is not built yet, so that the operator knows what to install rather than where to look. */
static void
plugin_err_missing(const plugin_kind_t *kind, const char *driver, const char *path, char *err,
                   size_t errlen)
{
    const char *noun = kind->noun;
    for (size_t i = 0; i < kind->nknown; i++) {
        const plugin_known_t *k = &kind->known[i];
        if (!plugin_driver_eq(driver, k->driver))
            continue;
        if (!k->built)
            plugin_err(err, errlen, "%s '%s' is not built yet: %s does not exist", noun, driver,
                       path);
        else if (k->package)
            plugin_err(err, errlen,
                       "%s '%s' is not installed: %s does not exist (the %s package "
                       "provides it)",
                       noun, driver, path, k->package);
        else
            plugin_err(err, errlen,
                       "%s '%s' ships with soketi, but %s does not exist: is the plugin "
                       "directory right?",
                       noun, driver, path);
        return;
    }
    plugin_err(err, errlen, "unknown %s '%s': %s does not exist", noun, driver, path);
}

/* Opens path and finds the three entry points. Returns the dlopen handle, or NULL with
 * the reason in err and nothing left open. */
static void *
plugin_open(const plugin_kind_t *kind, const char *path, plugin_syms_t *syms, char *err,
            size_t errlen)
{
    const char *const *names = kind->syms;
    void *found[3];

    dlerror();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        plugin_err(err, errlen, "cannot load %s: %s", path, why ? why : "dlopen failed");
        return NULL;
    }
    for (size_t i = 0; i < 3; i++) {
        found[i] = dlsym(handle, names[i]);
        if (!found[i]) {
            plugin_err(err, errlen, "%s does not export %s (an %s plugin exports %s, %s and %s)",
                       path, names[i], kind->noun, names[0], names[1], names[2]);
            dlclose(handle);
            return NULL;
        }
    }
    /* POSIX guarantees that a dlsym result converts to a function pointer; ISO C has no
     * cast for it, so the bits are copied. */
    memcpy(&syms->version, &found[0], sizeof(syms->version));
    syms->init = found[1];
    syms->cleanup = found[2];
    return handle;
}

/* Writes the host's versions as "2, 1" into buf. */
static void
plugin_versions_text(const plugin_kind_t *kind, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < kind->nversions && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? ", " : "", kind->versions[i]);
}

static int
plugin_abi_spoken(const plugin_kind_t *kind, int v)
{
    for (int i = 0; i < kind->nversions; i++)
        if (kind->versions[i] == v)
            return 1;
    return 0;
}

/* Offers the host's versions to the plugin. Returns the one it chose, or -1 with a reason
 * naming both sides: when the plugin answers -1, it is asked about other versions one at
 * a time, so that the message can say which one it speaks. */
static int
plugin_negotiate(const plugin_kind_t *kind, soketi_adapter_version_fn version, const char *path,
                 char *err, size_t errlen)
{
    char ours[64];
    int v = version(kind->nversions, kind->versions);
    if (plugin_abi_spoken(kind, v))
        return v;
    if (v <= 0) {
        int last = kind->versions[0] + PLUGIN_ABI_PROBE_AHEAD;
        for (int probe = 1; probe <= last; probe++) {
            if (!plugin_abi_spoken(kind, probe) && version(1, &probe) == probe) {
                v = probe;
                break;
            }
        }
    }
    plugin_versions_text(kind, ours, sizeof(ours));
    if (v > 0)
        plugin_err(err, errlen, "%s speaks ABI %d; this soketi speaks %s", path, v, ours);
    else
        plugin_err(err, errlen, "%s supports none of the ABI versions this soketi speaks: [%s]",
                   path, ours);
    return -1;
}

/* Checks what init filled (ops at ops, ops_size as the plugin set it): every op required by
 * the negotiated version lies within ops_size and is set, so the host never calls through
 * NULL or past the plugin's struct. Returns 0, or -1 with the reason in err. */
static int
plugin_check_ops(const skt_plugin_t *p, const void *ops, size_t ops_size, char *err, size_t errlen)
{
    const plugin_kind_t *k = p->kind;
    size_t need = 0;
    for (size_t i = 0; i < k->nops; i++) {
        size_t end = k->ops[i].offset + sizeof(plugin_any_fn);
        if (k->ops[i].since <= p->abi && end > need)
            need = end;
    }
    if (ops_size < need) {
        plugin_err(err, errlen,
                   "%s sets ops_size %zu, smaller than the %zu bytes of ABI %d's ops (is "
                   "ops_size set to the size of its ops struct?)",
                   p->path, ops_size, need, p->abi);
        return -1;
    }
    for (size_t i = 0; i < k->nops; i++) {
        plugin_any_fn fn;
        if (k->ops[i].since > p->abi)
            continue;
        memcpy(&fn, (const char *)ops + k->ops[i].offset, sizeof(fn));
        if (!fn) {
            plugin_err(err, errlen, "%s leaves op %s NULL; every op of ABI %d is required", p->path,
                       k->ops[i].name, p->abi);
            return -1;
        }
    }
    return 0;
}

/* ABI 1's ops first grew into their `reserved` slots, so a plugin or host built against
 * either header reads the same layout for the first 18 ops. With no slot left (job_put and
 * job_claim took the last two), an op added later goes at the end and is called only when
 * it lies within the plugin's ops_size (SKT_ADAPTER_HAS): channel_members_typed, 19th,
 * cluster_connection, 20th. */
_Static_assert(offsetof(soketi_adapter_ops_t, channel_members_typed) == 18 * sizeof(void (*)(void)),
               "soketi_adapter_ops_t's first 18 ops moved: ABI 1 plugins would break");
_Static_assert(offsetof(soketi_host_t, reserved) + sizeof(((soketi_host_t *)0)->reserved) ==
                   sizeof(soketi_host_t),
               "soketi_host_t must end with its reserved slots");
_Static_assert(offsetof(soketi_app_manager_host_t, reserved) +
                       sizeof(((soketi_app_manager_host_t *)0)->reserved) ==
                   sizeof(soketi_app_manager_host_t),
               "soketi_app_manager_host_t must end with its reserved slots");

/* Finds, opens and negotiates with <dir>/<prefix><driver>.so. Returns a new skt_plugin_t
 * whose init is yet to run (syms filled), or NULL with the reason in err. */
static skt_plugin_t *
plugin_start(const plugin_kind_t *kind, const char *dir, const char *driver, int have_host,
             plugin_syms_t *syms, char *err, size_t errlen)
{
    struct stat st;
    if (err && errlen)
        err[0] = '\0';
    if (!dir || !have_host) {
        plugin_err(err, errlen, "loading an %s: dir, host and out are required", kind->noun);
        return NULL;
    }
    if (!plugin_driver_valid(driver)) {
        plugin_err(err, errlen, "invalid %s driver '%s': use only letters, digits, '-' and '_'",
                   kind->noun, driver ? driver : "(null)");
        return NULL;
    }
    skt_plugin_t *p = calloc(1, sizeof(*p));
    if (p)
        p->path = plugin_path_new(dir, kind->prefix, driver, PLUGIN_SUFFIX, 1);
    if (!p || !p->path) {
        plugin_err(err, errlen, "%s '%s': out of memory", kind->noun, driver);
        free(p);
        return NULL;
    }
    p->kind = kind;
    if (stat(p->path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
        plugin_err_missing(kind, driver, p->path, err, errlen);
    else if ((p->handle = plugin_open(kind, p->path, syms, err, errlen)) != NULL &&
             (p->abi = plugin_negotiate(kind, syms->version, p->path, err, errlen)) >= 0)
        return p;
    plugin_free(p);
    return NULL;
}

/* What a failed init says. */
static void
plugin_err_init(const skt_plugin_t *p, int rc, char *err, size_t errlen)
{
    plugin_err(err, errlen, "%s: %s returned %d (the plugin logs why it refused)", p->path,
               p->kind->syms[1], rc);
}

int
skt_plugin_load(const char *dir, const char *driver, const soketi_host_t *host, skt_plugin_t **out,
                char *err, size_t errlen)
{
    plugin_syms_t syms;
    if (out)
        *out = NULL;
    skt_plugin_t *p = plugin_start(&kind_adapter, dir, driver, host && out, &syms, err, errlen);
    if (!p)
        return -1;
    soketi_adapter_init_fn init;
    soketi_adapter_cleanup_fn cleanup;
    memcpy(&init, &syms.init, sizeof(init));
    memcpy(&cleanup, &syms.cleanup, sizeof(cleanup));
    p->host = *host;
    p->host.size = sizeof(p->host);
    p->host.abi_version = p->abi;
    p->adapter.size = sizeof(p->adapter);
    int rc = init(&p->host, &p->adapter);
    if (rc != 0) {
        plugin_err_init(p, rc, err, errlen);
        plugin_free(p);
        return -1;
    }
    if (plugin_check_ops(p, &p->adapter.ops, p->adapter.ops_size, err, errlen) != 0) {
        cleanup(&p->adapter);
        plugin_free(p);
        return -1;
    }
    p->cleanup = syms.cleanup;
    skt_log(SKT_LOG_DEBUG, "adapter '%s': loaded %s (ABI %d)", driver, p->path, p->abi);
    *out = p;
    return 0;
}

int
skt_plugin_load_app_manager(const char *dir, const char *driver,
                            const soketi_app_manager_host_t *host, skt_plugin_t **out, char *err,
                            size_t errlen)
{
    plugin_syms_t syms;
    if (out)
        *out = NULL;
    skt_plugin_t *p = plugin_start(&kind_app_manager, dir, driver, host && out, &syms, err, errlen);
    if (!p)
        return -1;
    soketi_app_manager_init_fn init;
    soketi_app_manager_cleanup_fn cleanup;
    memcpy(&init, &syms.init, sizeof(init));
    memcpy(&cleanup, &syms.cleanup, sizeof(cleanup));
    p->am_host = *host;
    p->am_host.size = sizeof(p->am_host);
    p->am_host.abi_version = p->abi;
    p->am.size = sizeof(p->am);
    int rc = init(&p->am_host, &p->am);
    if (rc != 0) {
        plugin_err_init(p, rc, err, errlen);
        plugin_free(p);
        return -1;
    }
    if (plugin_check_ops(p, &p->am.ops, p->am.ops_size, err, errlen) != 0) {
        cleanup(&p->am);
        plugin_free(p);
        return -1;
    }
    p->cleanup = syms.cleanup;
    skt_log(SKT_LOG_DEBUG, "app manager '%s': loaded %s (ABI %d)", driver, p->path, p->abi);
    *out = p;
    return 0;
}

soketi_adapter_t *
skt_plugin_adapter(skt_plugin_t *p)
{
    return p->kind == &kind_adapter ? &p->adapter : NULL;
}

soketi_app_manager_t *
skt_plugin_app_manager(skt_plugin_t *p)
{
    return p->kind == &kind_app_manager ? &p->am : NULL;
}

const char *
skt_plugin_path(const skt_plugin_t *p)
{
    return p->path;
}

int
skt_plugin_abi(const skt_plugin_t *p)
{
    return p->abi;
}

void
skt_plugin_unload(skt_plugin_t *p)
{
    if (!p)
        return;
    if (p->kind == &kind_adapter) {
        soketi_adapter_cleanup_fn cleanup;
        memcpy(&cleanup, &p->cleanup, sizeof(cleanup));
        cleanup(&p->adapter);
    } else {
        soketi_app_manager_cleanup_fn cleanup;
        memcpy(&cleanup, &p->cleanup, sizeof(cleanup));
        cleanup(&p->am);
    }
    skt_log(SKT_LOG_DEBUG, "%s: unloaded %s", p->kind->noun, p->path);
    plugin_free(p);
}

static int
plugin_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the names of dir's <prefix>*.so files into a sorted array. Returns the count, or
 * -1 when dir cannot be read or memory runs out (nothing is then left allocated). */
static int
plugin_list_names(const char *dir, const char *prefix, char ***names_out)
{
    const size_t pre = strlen(prefix), suf = strlen(PLUGIN_SUFFIX);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= pre + suf || strncmp(de->d_name, prefix, pre) != 0 ||
            strcmp(de->d_name + len - suf, PLUGIN_SUFFIX) != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **grown = realloc(names, ncap * sizeof(*names));
            if (!grown)
                goto oom;
            names = grown;
            cap = ncap;
        }
        names[n] = malloc(len + 1);
        if (!names[n])
            goto oom;
        memcpy(names[n++], de->d_name, len + 1);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), plugin_name_cmp);
    *names_out = names;
    return (int)n;

oom:
    skt_log(SKT_LOG_ERROR, "listing plugins in %s: out of memory", dir);
    closedir(d);
    while (n > 0)
        free(names[--n]);
    free(names);
    return -1;
}

/* Reports every plugin of one kind in dir (skt_plugin_list). */
static int
plugin_list_kind(const plugin_kind_t *kind, const char *dir, skt_plugin_each_fn each, void *arg)
{
    const size_t pre = strlen(kind->prefix), suf = strlen(PLUGIN_SUFFIX);
    char **names = NULL;
    int n = plugin_list_names(dir, kind->prefix, &names);
    for (int i = 0; i < n; i++) {
        char note[512], driver[300];
        plugin_syms_t syms;
        int abi = -1;
        char *name = names[i] + pre;
        char *path = plugin_path_new(dir, "", names[i], "", 0);
        name[strlen(name) - suf] = '\0';
        for (char *c = name; *c; c++)
            if (*c == '_')
                *c = '-';
        /* app managers are named by kind, so that "mysql" reads as what it is */
        snprintf(driver, sizeof(driver), "%s%s", kind == &kind_adapter ? "" : "app-manager ", name);
        if (!path) {
            each(arg, driver, dir, -1, "out of memory");
        } else {
            void *handle = plugin_open(kind, path, &syms, note, sizeof(note));
            if (handle) {
                abi = plugin_negotiate(kind, syms.version, path, note, sizeof(note));
                dlclose(handle);
            }
            each(arg, driver, path, abi, abi < 0 ? note : NULL);
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return n;
}

int
skt_plugin_list(const char *dir, skt_plugin_each_fn each, void *arg)
{
    if (!dir || !each)
        return -1;
    int n = plugin_list_kind(&kind_adapter, dir, each, arg);
    if (n < 0)
        return -1;
    int m = plugin_list_kind(&kind_app_manager, dir, each, arg);
    return m < 0 ? -1 : n + m;
}
