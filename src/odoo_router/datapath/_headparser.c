/* odoo_router.datapath._headparser: llhttp driven from C, request heads handed over whole
   (this file: the request side, the module and its binding to llhttp) and response heads too
   (_headparser_response.c, ResponseParser; _headparser.h is what the two share).

   What headparse.LlhttpParser (the fallback) does with httptools and one Python call per URL
   piece, header, head and message, this does in C and returns one list of events per feed
   (headparse.py describes the events; tests/unit/datapath/test_headparse*.py hold the two to the same
   results). framing.py feeds it every read of a client connection.

   Which llhttp: the very one the fallback runs, compiled into httptools' parser
   extension, whose llhttp_* functions are exported. At import this module finds that
   extension (already loaded: httptools.parser.parser) with dlopen(RTLD_NOLOAD) and takes
   the functions it calls from it with dlsym, so both parsers run the same machine code and
   a new httptools brings its llhttp to both. No llhttp source is in this repository: the
   types come from llhttp.h of the PyPI package `llhttp` (pyllhttp, MIT), a build
   requirement of the compiled build (setup.py). llhttp's types have kept their layout
   across 9.x; headparse.py only loads this module under the httptools versions that the
   differential fuzz was run with (VERIFIED_HTTPTOOLS), and any missing symbol is an
   ImportError: the fallback is used instead.

   Rules, the same in headparse.LlhttpParser:
   - a feed that starts outside a message and whose first line (up to its LF) has no
     " HTTP/" is refused (400) before llhttp sees it: HTTP/0.9, which llhttp would take,
     and garbage (nginx answers both 400); CR and LF bytes before a request line are
     blank lines, skipped (nginx and llhttp skip them: any number, in any order);
   - the target is the concatenation of llhttp's URL pieces; longer than `limit` -> 414;
   - a header is complete when the next header name begins, or at the end of the head (or
     of a chunk, for trailers); trailing blanks of its value are dropped; name + value + 4
     over `limit`, or all headers (and trailers) over 4 x `limit` -> 494;
   - more than `max_headers` headers -> 494; HTTP/0.x -> 400, HTTP/2+ -> 505;
   - any llhttp error -> 400, 501 for a transfer coding it refuses;
   - trailers count against the limits and are dropped (nginx drops them too);
   - a feed that ends inside a head (a message began, its head is not whole) ends with
     IN_HEAD, so that the caller knows when a head began without asking after every feed.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <string.h>

#include "llhttp.h"
#include "_headparser.h"

/* The llhttp functions used (_headparser.h), taken from httptools' extension at import
   (bind_llhttp). */
LlhttpApi ll;

#define IN_HEAD 100 /* the event that ends a feed which stopped inside a head */
#define UPGRADE 101 /* the event that ends a feed whose request switches protocols */

typedef struct {
    PyObject_HEAD
    llhttp_t llhttp;
    Py_ssize_t limit;       /* large_client_header_buffers */
    Py_ssize_t max_headers; /* max_header_count */
    Buf url, name, value;
    int has_value;          /* a header value began (possibly empty) and is not handed yet */
    int in_head;            /* 0 once the head was handed: header lines are trailers */
    int in_message;         /* between a message's first byte and its end */
    Py_ssize_t header_bytes;
    PyObject *headers;      /* the head being parsed: name, value, name, value ... */
    PyObject *events;       /* the list this feed returns */
    int status;             /* a refusal decided in a callback */
    Py_ssize_t upgrade_at;
} Parser;

static llhttp_settings_t settings;
static PyObject *method_names[256];
PyObject *empty_bytes;

/* Header names as clients send them most, made once: such a name costs no allocation, and
   its hash, which the filter's lookup by name needs, is computed once per process. Names
   as sent (case kept), so the table is fixed; anything else gets a bytes object of its own. */
static const char *const KNOWN_NAMES[] = {
    "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Connection",
    "Cookie", "Content-Length", "Content-Type", "Referer", "Origin", "Authorization",
    "Cache-Control", "Pragma", "If-None-Match", "If-Modified-Since", "Upgrade",
    "Upgrade-Insecure-Requests", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
    "Sec-Fetch-User", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions", "Priority", "DNT", "X-Requested-With", "X-Forwarded-For",
    "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Forwarded-Server",
    "X-Real-Ip", "X-Real-IP", "X-Request-ID", "Transfer-Encoding", "Expect", "Range",
    "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
    "host", "user-agent", "accept", "accept-encoding", "accept-language", "connection",
    "cookie", "content-length", "content-type", "referer", "origin", "authorization",
    "x-forwarded-for", "x-forwarded-proto", "x-real-ip", "x-request-id",
    /* and as upstreams (Odoo's werkzeug, nginx, the demo) answer */
    "Server", "Date", "Set-Cookie", "Location", "Refresh", "Expires", "Last-Modified",
    "ETag", "Vary", "Content-Encoding", "Content-Disposition", "Content-Security-Policy",
    "X-Content-Type-Options", "X-Frame-Options", "Strict-Transport-Security", "Keep-Alive",
    "Accept-Ranges", "Age", "Access-Control-Allow-Origin",
    "set-cookie", "server", "date", "location", "cache-control", "content-encoding",
};
#define N_KNOWN (sizeof(KNOWN_NAMES) / sizeof(KNOWN_NAMES[0]))
#define KNOWN_MAX_LEN 32
/* The made names ordered by length; those of length n are known_names[by_len[n]:by_len[n+1]]. */
static PyObject *known_names[N_KNOWN];
static size_t by_len[KNOWN_MAX_LEN + 2];

/* The made name equal to data[:len], as a new reference, or NULL when there is none. */
PyObject *known_name(const char *data, Py_ssize_t len) {
    if (len > KNOWN_MAX_LEN) return NULL;
    for (size_t i = by_len[len]; i < by_len[len + 1]; i++) {
        PyObject *name = known_names[i];
        if (memcmp(PyBytes_AS_STRING(name), data, (size_t)len) == 0) return Py_NewRef(name);
    }
    return NULL;
}

static int make_known_names(void) {
    size_t made = 0;
    for (Py_ssize_t len = 0; len <= KNOWN_MAX_LEN; len++) {
        by_len[len] = made;
        for (size_t i = 0; i < N_KNOWN; i++) {
            if ((Py_ssize_t)strlen(KNOWN_NAMES[i]) != len) continue;
            PyObject *name = PyBytes_FromString(KNOWN_NAMES[i]);
            if (name == NULL) return -1;
            (void)PyObject_Hash(name); /* kept in the object from now on */
            known_names[made++] = name;
        }
    }
    by_len[KNOWN_MAX_LEN + 1] = made;
    return 0;
}

int buf_add(Buf *b, const char *at, size_t length) {
    if (b->len + (Py_ssize_t)length > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (Py_ssize_t)length) cap *= 2;
        char *data = PyMem_Realloc(b->data, (size_t)cap);
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, at, length);
    b->len += (Py_ssize_t)length;
    return 0;
}

PyObject *end_events(PyObject *events, PyObject *last) {
    if (last == NULL || PyList_Append(events, last) < 0) {
        Py_XDECREF(last);
        Py_DECREF(events);
        return NULL;
    }
    Py_DECREF(last);
    return events;
}

static inline Parser *owner(llhttp_t *p) { return (Parser *)p->data; }

static int refuse(Parser *self, int status) {
    self->status = status;
    return HPE_USER;
}

/* The pending header is complete: checked against the limits, then added to the head (or,
   a trailer, dropped). A Python error (memory) is reported as status -1. */
static int hand_header(Parser *self) {
    if (!self->has_value) return 0;
    Py_ssize_t vlen = self->value.len;
    while (vlen > 0 && (self->value.data[vlen - 1] == ' ' || self->value.data[vlen - 1] == '\t'))
        vlen--;
    Py_ssize_t nlen = self->name.len;
    self->name.len = self->value.len = 0;
    self->has_value = 0;
    Py_ssize_t size = nlen + vlen + 4;
    self->header_bytes += size;
    if (size > self->limit || self->header_bytes > 4 * self->limit) return refuse(self, 494);
    if (!self->in_head) return 0;
    /* flat, as the data path holds headers (headers.Headers): name, value, name, ... */
    PyObject *name = known_name(self->name.data, nlen);
    if (name == NULL) name = PyBytes_FromStringAndSize(self->name.data, nlen);
    if (name == NULL) return refuse(self, -1);
    int failed = PyList_Append(self->headers, name);
    Py_DECREF(name);
    if (failed) return refuse(self, -1);
    PyObject *value = vlen ? PyBytes_FromStringAndSize(self->value.data, vlen)
                           : Py_NewRef(empty_bytes);
    if (value == NULL) return refuse(self, -1);
    failed = PyList_Append(self->headers, value);
    Py_DECREF(value);
    return failed ? refuse(self, -1) : 0;
}

static int on_message_begin(llhttp_t *p) {
    Parser *self = owner(p);
    self->url.len = self->name.len = self->value.len = 0;
    self->has_value = 0;
    self->in_head = 1;
    self->in_message = 1;
    self->header_bytes = 0;
    Py_XSETREF(self->headers, PyList_New(0));
    return self->headers ? 0 : refuse(self, -1);
}

static int on_url(llhttp_t *p, const char *at, size_t length) {
    Parser *self = owner(p);
    if (buf_add(&self->url, at, length) < 0) return refuse(self, -1);
    return self->url.len > self->limit ? refuse(self, 414) : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t length) {
    Parser *self = owner(p);
    if (hand_header(self) != 0) return HPE_USER;
    return buf_add(&self->name, at, length) < 0 ? refuse(self, -1) : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t length) {
    Parser *self = owner(p);
    self->has_value = 1;
    return buf_add(&self->value, at, length) < 0 ? refuse(self, -1) : 0;
}

static PyObject *method_name(uint8_t method) {
    PyObject *name = method_names[method];
    if (name == NULL) {
        name = method_names[method] = PyUnicode_InternFromString(ll.method_name(method));
    }
    return name;
}

static int on_headers_complete(llhttp_t *p) {
    Parser *self = owner(p);
    if (hand_header(self) != 0) return HPE_USER;
    if (PyList_GET_SIZE(self->headers) > 2 * self->max_headers) return refuse(self, 494);
    if (p->http_major != 1) return refuse(self, p->http_major == 0 ? 400 : 505);
    PyObject *method = method_name(p->method);
    PyObject *target = PyBytes_FromStringAndSize(self->url.data, self->url.len);
    PyObject *version = PyLong_FromLong(p->http_major * 10 + p->http_minor);
    if (method == NULL || target == NULL || version == NULL) {
        Py_XDECREF(target);
        Py_XDECREF(version);
        return refuse(self, -1);
    }
    PyObject *head = PyTuple_New(6);
    if (head == NULL) {
        Py_DECREF(target);
        Py_DECREF(version);
        return refuse(self, -1);
    }
    PyTuple_SET_ITEM(head, 0, Py_NewRef(method));
    PyTuple_SET_ITEM(head, 1, target);
    PyTuple_SET_ITEM(head, 2, version);
    PyTuple_SET_ITEM(head, 3, self->headers); /* the head owns the list from here */
    PyTuple_SET_ITEM(head, 4, PyBool_FromLong(ll.should_keep_alive(p)));
    PyTuple_SET_ITEM(head, 5, PyBool_FromLong(p->upgrade));
    self->headers = NULL;
    self->in_head = 0;
    int failed = PyList_Append(self->events, head);
    Py_DECREF(head);
    if (failed) return refuse(self, -1);
    return p->upgrade ? 1 : 0; /* an upgrade has no body here: the rest is the tunnel's */
}

static int on_body(llhttp_t *p, const char *at, size_t length) {
    Parser *self = owner(p);
    PyObject *piece = PyBytes_FromStringAndSize(at, (Py_ssize_t)length);
    if (piece == NULL) return refuse(self, -1);
    int failed = PyList_Append(self->events, piece);
    Py_DECREF(piece);
    return failed ? refuse(self, -1) : 0;
}

static int on_message_complete(llhttp_t *p) {
    Parser *self = owner(p);
    self->in_message = 0;
    return PyList_Append(self->events, Py_None) < 0 ? refuse(self, -1) : 0;
}

static int on_chunk_header(llhttp_t *p) {
    Parser *self = owner(p);
    /* httptools' "invalid headers state": a header line left open before a chunk */
    return (self->name.len || self->has_value) ? refuse(self, 400) : 0;
}

static int on_chunk_complete(llhttp_t *p) {
    return hand_header(owner(p)) != 0 ? HPE_USER : 0;
}

/* Whether the first line of data[0:len], if its end is there, names no HTTP version: an
   HTTP/0.9 request line (which llhttp would take, waiting for a header) or garbage. */
static int first_line_unversioned(const char *data, Py_ssize_t len) {
    const char *end = memchr(data, '\n', (size_t)len);
    if (end == NULL) return 0;
    for (const char *at = data; at + 6 <= end; at++) {
        if (*at == ' ' && memcmp(at + 1, "HTTP/", 5) == 0) return 0;
    }
    return 1;
}

/* The same for the first line after any CR and LF bytes that lead: nginx skips those before
   a request line, any number in any order (llhttp too, so they are fed to it as they are).
   Looked past only when the first line fails, so a plain read pays nothing for it. */
static int no_http_version(const char *data, Py_ssize_t len) {
    if (!first_line_unversioned(data, len)) return 0;
    Py_ssize_t skip = 0;
    while (skip < len && (data[skip] == '\r' || data[skip] == '\n')) skip++;
    return skip == 0 || first_line_unversioned(data + skip, len - skip);
}

static PyObject *Parser_feed(Parser *self, PyObject *data) {
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "feed() takes bytes");
        return NULL;
    }
    if (self->limit == 0) { /* never initialised: llhttp has no settings to call */
        PyErr_SetString(PyExc_ValueError, "Parser.__init__ was not called");
        return NULL;
    }
    PyObject *events = PyList_New(0);
    if (events == NULL) return NULL;
    self->events = events;
    self->status = 0;
    const char *start = PyBytes_AS_STRING(data);
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    llhttp_errno_t err = HPE_OK;
    if (!self->in_message && no_http_version(start, size)) {
        self->status = 400; /* refused before llhttp sees it (nginx answers 400 too) */
        err = HPE_USER;
    } else {
        err = ll.execute(&self->llhttp, start, (size_t)size);
    }
    self->events = NULL;
    if (err == HPE_OK) {
        return self->in_head ? end_events(events, PyLong_FromLong(IN_HEAD)) : events;
    }
    if (self->status == -1) { /* a Python error, not the request's */
        Py_DECREF(events);
        return NULL;
    }
    long stop;
    if (err == HPE_PAUSED_UPGRADE && self->llhttp.upgrade == 1) {
        self->upgrade_at = ll.get_error_pos(&self->llhttp) - start;
        ll.resume_after_upgrade(&self->llhttp);
        stop = UPGRADE;
    } else if (self->status) {
        stop = self->status;
    } else {
        /* nginx answers a transfer coding it does not know with 501, other errors 400 */
        const char *reason = ll.get_error_reason(&self->llhttp);
        stop = reason && strstr(reason, "invalid `Transfer-Encoding`") ? 501 : 400;
    }
    return end_events(events, PyLong_FromLong(stop));
}

static PyObject *Parser_close(Parser *self, PyObject *Py_UNUSED(ignored)) {
    Py_CLEAR(self->headers);
    Py_RETURN_NONE;
}

static int Parser_init(Parser *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"header_limit", "max_headers", NULL};
    Py_ssize_t limit, max_headers;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nn", keywords, &limit, &max_headers))
        return -1;
    if (limit < 1 || max_headers < 0) {
        PyErr_SetString(PyExc_ValueError, "header_limit must be >= 1, max_headers >= 0");
        return -1;
    }
    self->limit = limit;
    self->max_headers = max_headers;
    ll.init(&self->llhttp, HTTP_REQUEST, &settings);
    self->llhttp.data = self;
    /* nginx takes any HTTP/1.x minor version as 1.1 semantics; llhttp only 1.0 and 1.1 */
    ll.set_lenient_version(&self->llhttp, 1);
    self->upgrade_at = -1;
    return 0;
}

static void Parser_dealloc(Parser *self) {
    Py_XDECREF(self->headers);
    PyMem_Free(self->url.data);
    PyMem_Free(self->name.data);
    PyMem_Free(self->value.data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Parser_upgrade_at(Parser *self, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(self->upgrade_at);
}

static PyObject *Parser_in_head(Parser *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(self->in_head);
}

static PyObject *Parser_target(Parser *self, void *Py_UNUSED(closure)) {
    return PyBytes_FromStringAndSize(self->url.data, self->url.len);
}

static PyMethodDef Parser_methods[] = {
    {"feed", (PyCFunction)Parser_feed, METH_O,
     "feed(data) -> events: heads, body pieces, None at each message end, a final int on a "
     "refusal (its status), an upgrade (101), or a head that goes on in the next feed (100)."},
    {"close", (PyCFunction)Parser_close, METH_NOARGS, "Drop the head being parsed."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Parser_getset[] = {
    {"upgrade_at", (getter)Parser_upgrade_at, NULL,
     "After an upgrade event: where, in the data of that feed, the tunnel's bytes start.",
     NULL},
    {"in_head", (getter)Parser_in_head, NULL,
     "Whether a message began whose head was not handed over (still coming, or refused).",
     NULL},
    {"target", (getter)Parser_target, NULL,
     "The target of the last message begun, as far as it came (for a refusal's log).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ParserType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "odoo_router.datapath._headparser.Parser",
    .tp_doc = "Parser(header_limit, max_headers): llhttp over a client's request stream.",
    .tp_basicsize = sizeof(Parser),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Parser_init,
    .tp_dealloc = (destructor)Parser_dealloc,
    .tp_methods = Parser_methods,
    .tp_getset = Parser_getset,
};

static PyMethodDef module_methods[] = {
    {"join", (PyCFunction)join_pieces, METH_O,
     "join(pieces) -> bytes: b''.join of a list of bytes (the data path's heads), faster."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_methods = module_methods,
    .m_name = "odoo_router.datapath._headparser",
    .m_doc = "llhttp driven from C: request and response heads handed over whole (see "
             "headparse.py, respparse.py).",
    .m_size = -1,
};

/* Each llhttp function this module calls, from httptools' parser extension. */
static int bind_llhttp(void) {
    PyObject *ext = PyImport_ImportModule("httptools.parser.parser");
    if (ext == NULL) return -1;
    PyObject *file = PyObject_GetAttrString(ext, "__file__");
    Py_DECREF(ext);
    const char *path = file ? PyUnicode_AsUTF8(file) : NULL;
    if (path == NULL) {
        Py_XDECREF(file);
        return -1;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    Py_DECREF(file);
    if (lib == NULL) {
        PyErr_Format(PyExc_ImportError, "httptools' parser extension: %s", dlerror());
        return -1;
    }
    /* The handle stays open: the module lives as long as the process. */
    struct {
        const char *name;
        void **slot;
    } wanted[] = {
        {"llhttp_init", (void **)&ll.init},
        {"llhttp_settings_init", (void **)&ll.settings_init},
        {"llhttp_execute", (void **)&ll.execute},
        {"llhttp_resume_after_upgrade", (void **)&ll.resume_after_upgrade},
        {"llhttp_get_error_pos", (void **)&ll.get_error_pos},
        {"llhttp_get_error_reason", (void **)&ll.get_error_reason},
        {"llhttp_should_keep_alive", (void **)&ll.should_keep_alive},
        {"llhttp_method_name", (void **)&ll.method_name},
        {"llhttp_set_lenient_version", (void **)&ll.set_lenient_version},
    };
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        *wanted[i].slot = dlsym(lib, wanted[i].name);
        if (*wanted[i].slot == NULL) {
            PyErr_Format(PyExc_ImportError, "httptools exports no %s", wanted[i].name);
            return -1;
        }
    }
    return 0;
}

PyMODINIT_FUNC PyInit__headparser(void) {
    if (ll.execute == NULL && bind_llhttp() < 0) return NULL;
    ll.settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    settings.on_chunk_header = on_chunk_header;
    settings.on_chunk_complete = on_chunk_complete;
    if (empty_bytes == NULL && (empty_bytes = PyBytes_FromStringAndSize(NULL, 0)) == NULL)
        return NULL;
    if (known_names[0] == NULL && make_known_names() < 0) return NULL;
    if (PyType_Ready(&ParserType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Parser", (PyObject *)&ParserType) < 0 ||
        PyModule_AddIntConstant(m, "UPGRADE", UPGRADE) < 0 ||
        PyModule_AddIntConstant(m, "IN_HEAD", IN_HEAD) < 0 || add_response_parser(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
