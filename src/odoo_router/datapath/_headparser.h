/* What the parts of odoo_router.datapath._headparser share: _headparser.c (the
   request side, the module, the binding to httptools' llhttp), _headparser_response.c
   (the response side), _headparser_join.c (the join of head pieces). */
#ifndef ODOO_ROUTER_HEADPARSER_H
#define ODOO_ROUTER_HEADPARSER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "llhttp.h"

/* The llhttp functions used, from httptools' parser extension (bind_llhttp). */
typedef struct {
    void (*init)(llhttp_t *, llhttp_type_t, const llhttp_settings_t *);
    void (*settings_init)(llhttp_settings_t *);
    llhttp_errno_t (*execute)(llhttp_t *, const char *, size_t);
    void (*resume_after_upgrade)(llhttp_t *);
    const char *(*get_error_pos)(const llhttp_t *);
    const char *(*get_error_reason)(const llhttp_t *);
    int (*should_keep_alive)(const llhttp_t *);
    const char *(*method_name)(llhttp_method_t);
    void (*set_lenient_version)(llhttp_t *, int);
} LlhttpApi;

extern LlhttpApi ll;
extern PyObject *empty_bytes;

/* A growing byte buffer (a name, a value, a target or a reason split across reads). */
typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

int buf_add(Buf *b, const char *at, size_t length);

/* The header name made once equal to data[:len], as a new reference, or NULL. */
PyObject *known_name(const char *data, Py_ssize_t len);

/* A feed's last event: ``last`` (stolen) appended to ``events``, which is returned; on a
   failure (``last`` NULL included) both are dropped and NULL is returned. */
PyObject *end_events(PyObject *events, PyObject *last);

/* join(pieces): b"".join of a list of bytes without a buffer per piece (_headparser_join.c). */
PyObject *join_pieces(PyObject *module, PyObject *pieces);

/* Readies ResponseParser and adds it (and UNASKED) to the module; -1 on an error. */
int add_response_parser(PyObject *module);

#endif
