/* loader.h - finds, opens, negotiates with and initialises plugins: adapters
 * (include/soketi/adapter.h) and app managers (include/soketi/app_manager.h).
 *
 * DESIGN
 * A plugin is <dir>/adapter_<driver>.so, opened with dlopen(RTLD_NOW | RTLD_LOCAL) so that
 * every symbol it needs is resolved at load time and none of its symbols leak into other
 * plugins. Loading runs the lifecycle of include/soketi/adapter.h:
 *   1. soketi_adapter_version is offered the host's ABI versions (newest first);
 *   2. soketi_adapter_init gets a private copy of the host table, whose abi_version is the
 *      negotiated one, and a zeroed soketi_adapter_t whose size the host sets;
 *   3. the ops the plugin filled are checked (ops_size, every op of the ABI present).
 * Any refusal leaves nothing loaded: when init succeeded but the ops are refused, cleanup
 * is called before dlclose; when init itself fails, cleanup is not called (init frees what
 * it allocated before failing).
 *
 * LIFETIME: the skt_plugin_t owns the dlopen handle, the host copy the plugin may keep a
 * pointer to, and the adapter the plugin filled. All three stay valid until
 * skt_plugin_unload, which calls cleanup first, then dlclose, then frees. Everything here
 * runs on the event loop thread, like the plugins themselves.
 *
 * A bad plugin is refused with a message, never crashes the loader; a plugin that
 * crashes inside its own code cannot be guarded against.
 */
#ifndef SKT_PLUGIN_LOADER_H
#define SKT_PLUGIN_LOADER_H

#include <stddef.h>

#include <soketi/adapter.h>
#include <soketi/app_manager.h>

/* 1 when the adapter ad (soketi_adapter_t *) set the optional op (include/soketi/adapter.h:
 * within its ops_size and not NULL). */
#define SKT_ADAPTER_HAS(ad, op)                                                                    \
    ((ad)->ops_size >= offsetof(soketi_adapter_ops_t, op) + sizeof((ad)->ops.op) &&                \
     (ad)->ops.op != NULL)

typedef struct skt_plugin_s skt_plugin_t;

/* Loads the adapter plugin for driver from dir: <dir>/adapter_<driver>.so, where each '-'
 * in driver becomes '_' ("redis-cluster" -> adapter_redis_cluster.so). driver may hold only
 * letters, digits, '-' and '_'.
 * host: the daemon's host table; it is copied, so it need not outlive the call. The copy
 * handed to the plugin has abi_version set to the negotiated version and size set to
 * sizeof(soketi_host_t).
 * On success returns 0 and sets *out (free it with skt_plugin_unload). On failure returns
 * -1, sets *out to NULL, writes a one-line reason into err (errlen bytes, always
 * NUL-terminated; err may be NULL when errlen is 0) and leaves nothing loaded. Reasons:
 * an invalid driver name; the file is missing (the message names the path, and for a
 * driver soketi knows but that is not installed here, the package that provides it or
 * that it is not built yet); dlopen fails (dlerror()'s text); one of the three required
 * symbols is missing (named); the plugin speaks none of the host's ABI versions (both
 * sides named); init returns non-zero; ops_size is smaller than the ABI's ops; an op of
 * the ABI is left NULL (named). */
int skt_plugin_load(const char *dir, const char *driver, const soketi_host_t *host,
                    skt_plugin_t **out, char *err, size_t errlen);

/* Loads the app manager plugin for driver from dir: <dir>/app_manager_<driver>.so, as
 * skt_plugin_load does an adapter (the same names, lifecycle and refusals, with the app
 * manager's symbols and ABI; a missing soketi driver names its package: soketi-mysql,
 * soketi-postgres). */
int skt_plugin_load_app_manager(const char *dir, const char *driver,
                                const soketi_app_manager_host_t *host, skt_plugin_t **out,
                                char *err, size_t errlen);

/* The initialised app manager of a plugin skt_plugin_load_app_manager loaded (else NULL). Owned
 * by p, valid until skt_plugin_unload(p). */
soketi_app_manager_t *skt_plugin_app_manager(skt_plugin_t *p);

/* The initialised adapter (NULL for an app manager): call adapter->ops.broadcast(adapter->self,
 * ...). Owned by p, valid until skt_plugin_unload(p). */
soketi_adapter_t *skt_plugin_adapter(skt_plugin_t *p);

/* The file p was loaded from. Owned by p. */
const char *skt_plugin_path(const skt_plugin_t *p);

/* The ABI version negotiated with p. */
int skt_plugin_abi(const skt_plugin_t *p);

/* Calls the plugin's cleanup (soketi_adapter_cleanup or soketi_app_manager_cleanup), then dlclose,
 * then frees p. Call it after the last client has gone and no callback of the plugin is pending.
 * NULL is a no-op. */
void skt_plugin_unload(skt_plugin_t *p);

/* Called once per plugin file by skt_plugin_list. driver: the driver name that loads it
 * (the file name without "adapter_" and ".so", each '_' written as '-'; for an app manager
 * "app-manager " and its name: "app-manager mysql"); path: the file;
 * abi: the version it negotiates with this host, or -1 when it would be refused before
 * init; note: NULL, or why it is refused. All strings are valid only during the call. */
typedef void (*skt_plugin_each_fn)(void *arg, const char *driver, const char *path, int abi,
                                   const char *note);

/* For `soketi plugins`: opens every adapter_*.so, then every app_manager_*.so in dir, in name
 * order, checks its symbols and negotiates its ABI version against this host without calling init,
 * closes it and reports it to each. Returns the number of files reported, or -1 when dir cannot be
 * read. */
int skt_plugin_list(const char *dir, skt_plugin_each_fn each, void *arg);

#endif /* SKT_PLUGIN_LOADER_H */
