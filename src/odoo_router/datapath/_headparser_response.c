/* odoo_router.datapath._headparser.ResponseParser: llhttp over an upstream's answers,
   response heads handed over whole, one call per read (respparse.py describes the events;
   tests/unit/datapath/test_respparse*.py hold it to respparse.LlhttpResponseParser, the
   fallback: the same llhttp through httptools, one Python call per header).

   Rules, the same in respparse.LlhttpResponseParser (which follows httptools' callbacks):
   - a header is complete when the next header name begins, or at the end of the head;
     values are kept as llhttp hands them (the router forwards them unchanged);
   - an interim answer (1xx other than 101) is dropped whole, head and end;
   - the end of the final response (or, to a HEAD, its head) makes the parser "done": a
     message begun after it, a body byte or chunk after the head of a HEAD answer, or any
     error past it is UNASKED (bytes no request asked for; the caller never reuses the
     connection), not a framing error;
   - trailers are dropped; an upgrade (101) stops parsing where the tunnel's bytes begin;
   - no limits here: the caller counts the head's bytes (server.proxy_header_max).
*/
#include <string.h>

#include "_headparser.h"

#define UNASKED 1   /* the event that ends a feed with bytes after the end of the response */
#define UPGRADE 101 /* the event that ends a feed whose answer switches protocols */

typedef struct {
    PyObject_HEAD
    llhttp_t llhttp;
    Buf reason, name, value;
    int ready;          /* begin() was called: llhttp is initialised */
    int has_value;      /* a header value began (possibly empty) and is not handed yet */
    int in_head;        /* a head is being parsed: header lines are its own */
    int interim;        /* the message being parsed is an interim (1xx) answer */
    int head_only;      /* the request was HEAD: its answer ends with its head */
    int done;           /* the final answer ended: anything more is unasked */
    int unasked;        /* a callback found bytes after the end */
    int failed;         /* a Python error (memory) in a callback */
    /* the head being parsed: name, value, name, value ..., held here and made a list of
       its exact size once whole (no list growing by reallocation, header by header) */
    PyObject **fields;
    Py_ssize_t n_fields, fields_cap;
    PyObject *events;   /* the list this feed returns */
    Py_ssize_t upgrade_at;
} RParser;

static llhttp_settings_t rsettings;

static inline RParser *rowner(llhttp_t *p) { return (RParser *)p->data; }

static int python_error(RParser *self) {
    self->failed = 1;
    return HPE_USER;
}

static int found_unasked(RParser *self) {
    self->unasked = 1;
    return HPE_USER;
}

static int append(RParser *self, PyObject *event) { /* steals event */
    if (event == NULL) return python_error(self);
    int failed = PyList_Append(self->events, event);
    Py_DECREF(event);
    return failed ? python_error(self) : 0;
}

static void drop_fields(RParser *self) {
    for (Py_ssize_t i = 0; i < self->n_fields; i++) Py_DECREF(self->fields[i]);
    self->n_fields = 0;
}

static int add_field(RParser *self, PyObject *field) { /* steals field */
    if (field == NULL) return python_error(self);
    if (self->n_fields == self->fields_cap) {
        Py_ssize_t cap = self->fields_cap ? 2 * self->fields_cap : 32;
        PyObject **grown = PyMem_Realloc(self->fields, (size_t)cap * sizeof(PyObject *));
        if (grown == NULL) {
            Py_DECREF(field);
            PyErr_NoMemory();
            return python_error(self);
        }
        self->fields = grown;
        self->fields_cap = cap;
    }
    self->fields[self->n_fields++] = field;
    return 0;
}

/* The pending header is complete: added to the head (or, a trailer, dropped). */
static int hand_header(RParser *self) {
    if (!self->has_value) return 0;
    Py_ssize_t nlen = self->name.len, vlen = self->value.len;
    self->name.len = self->value.len = 0;
    self->has_value = 0;
    if (!self->in_head) return 0;
    PyObject *name = known_name(self->name.data, nlen);
    if (name == NULL) name = PyBytes_FromStringAndSize(self->name.data, nlen);
    if (add_field(self, name) != 0) return HPE_USER;
    PyObject *value = vlen ? PyBytes_FromStringAndSize(self->value.data, vlen)
                           : Py_NewRef(empty_bytes);
    return add_field(self, value) != 0 ? HPE_USER : 0;
}

static int r_on_message_begin(llhttp_t *p) {
    RParser *self = rowner(p);
    if (self->done) return found_unasked(self);
    self->reason.len = self->name.len = self->value.len = 0;
    self->has_value = 0;
    self->in_head = 1;
    self->interim = 0;
    drop_fields(self);
    return 0;
}

static int r_on_status(llhttp_t *p, const char *at, size_t length) {
    RParser *self = rowner(p);
    return buf_add(&self->reason, at, length) < 0 ? python_error(self) : 0;
}

static int r_on_header_field(llhttp_t *p, const char *at, size_t length) {
    RParser *self = rowner(p);
    if (hand_header(self) != 0) return HPE_USER;
    return buf_add(&self->name, at, length) < 0 ? python_error(self) : 0;
}

static int r_on_header_value(llhttp_t *p, const char *at, size_t length) {
    RParser *self = rowner(p);
    self->has_value = 1;
    return buf_add(&self->value, at, length) < 0 ? python_error(self) : 0;
}

static int r_on_headers_complete(llhttp_t *p) {
    RParser *self = rowner(p);
    if (hand_header(self) != 0) return HPE_USER;
    self->in_head = 0;
    int skip = p->upgrade ? 1 : 0; /* as httptools: an upgrade has no body here */
    int status = p->status_code;
    if (status >= 100 && status < 200 && status != 101) {
        self->interim = 1; /* dropped: the answer is still to come */
        drop_fields(self);
        return skip;
    }
    PyObject *head = PyTuple_New(4);
    PyObject *code = PyLong_FromLong(status);
    PyObject *reason = PyBytes_FromStringAndSize(self->reason.data, self->reason.len);
    PyObject *headers = PyList_New(self->n_fields);
    if (head == NULL || code == NULL || reason == NULL || headers == NULL) {
        Py_XDECREF(head);
        Py_XDECREF(code);
        Py_XDECREF(reason);
        Py_XDECREF(headers);
        return python_error(self);
    }
    for (Py_ssize_t i = 0; i < self->n_fields; i++) /* the list owns them from here */
        PyList_SET_ITEM(headers, i, self->fields[i]);
    self->n_fields = 0;
    PyTuple_SET_ITEM(head, 0, code);
    PyTuple_SET_ITEM(head, 1, reason);
    PyTuple_SET_ITEM(head, 2, headers);
    PyTuple_SET_ITEM(head, 3, PyBool_FromLong(ll.should_keep_alive(p)));
    if (append(self, head) != 0) return HPE_USER;
    if (self->head_only) { /* the answer to a HEAD ends here, whatever it declared */
        self->done = 1;
        if (append(self, Py_NewRef(Py_None)) != 0) return HPE_USER;
    }
    return skip;
}

static int r_on_body(llhttp_t *p, const char *at, size_t length) {
    RParser *self = rowner(p);
    if (self->done) return found_unasked(self); /* a body after the head of a HEAD answer */
    return append(self, PyBytes_FromStringAndSize(at, (Py_ssize_t)length));
}

static int r_on_message_complete(llhttp_t *p) {
    RParser *self = rowner(p);
    if (self->interim) {
        self->interim = 0;
        return 0;
    }
    if (self->done) return 0; /* a HEAD answer that declared no body */
    self->done = 1;
    return append(self, Py_NewRef(Py_None));
}

static int r_on_chunk_header(llhttp_t *p) {
    RParser *self = rowner(p);
    /* httptools' "invalid headers state": a header line left open before a chunk */
    if (self->name.len || self->has_value) return -1;
    return self->done ? found_unasked(self) : 0;
}

static int r_on_chunk_complete(llhttp_t *p) {
    return hand_header(rowner(p)) != 0 ? HPE_USER : 0;
}

/* begin(head_only, fresh): llhttp starts over for every answer (a memset), so `fresh`,
   which the fallback needs after a body it did not parse, changes nothing here. */
static PyObject *RParser_begin(RParser *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "begin() takes head_only and fresh");
        return NULL;
    }
    int head_only = PyObject_IsTrue(args[0]);
    if (head_only < 0) return NULL;
    ll.init(&self->llhttp, HTTP_RESPONSE, &rsettings);
    self->llhttp.data = self;
    self->ready = 1;
    self->head_only = head_only;
    self->done = self->interim = self->in_head = self->has_value = 0;
    self->reason.len = self->name.len = self->value.len = 0;
    self->upgrade_at = -1;
    drop_fields(self);
    Py_RETURN_NONE;
}

static PyObject *RParser_feed(RParser *self, PyObject *data) {
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "feed() takes bytes");
        return NULL;
    }
    if (!self->ready) {
        PyErr_SetString(PyExc_ValueError, "ResponseParser.begin() was not called");
        return NULL;
    }
    PyObject *events = PyList_New(0);
    if (events == NULL) return NULL;
    self->events = events;
    self->unasked = self->failed = 0;
    const char *start = PyBytes_AS_STRING(data);
    llhttp_errno_t err = ll.execute(&self->llhttp, start, (size_t)PyBytes_GET_SIZE(data));
    self->events = NULL;
    if (err == HPE_OK) return events;
    if (self->failed) { /* a Python error, not the upstream's */
        Py_DECREF(events);
        return NULL;
    }
    PyObject *last;
    if (err == HPE_PAUSED_UPGRADE && self->llhttp.upgrade == 1) {
        self->upgrade_at = ll.get_error_pos(&self->llhttp) - start;
        ll.resume_after_upgrade(&self->llhttp);
        last = PyLong_FromLong(UPGRADE);
    } else if (self->unasked || self->done) {
        last = PyLong_FromLong(UNASKED);
    } else { /* llhttp's reason, as httptools puts it in its exception */
        const char *reason = ll.get_error_reason(&self->llhttp);
        last = PyUnicode_DecodeLatin1(reason ? reason : "", reason ? strlen(reason) : 0, NULL);
    }
    return end_events(events, last);
}

static PyObject *RParser_close(RParser *self, PyObject *Py_UNUSED(ignored)) {
    drop_fields(self);
    Py_RETURN_NONE;
}

static void RParser_dealloc(RParser *self) {
    drop_fields(self);
    PyMem_Free(self->fields);
    PyMem_Free(self->reason.data);
    PyMem_Free(self->name.data);
    PyMem_Free(self->value.data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *RParser_upgrade_at(RParser *self, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(self->upgrade_at);
}

static PyMethodDef RParser_methods[] = {
    {"begin", (PyCFunction)(void (*)(void))RParser_begin, METH_FASTCALL,
     "begin(head_only, fresh): ready for the answer to one request (head_only: a HEAD)."},
    {"feed", (PyCFunction)RParser_feed, METH_O,
     "feed(data) -> events: heads, body pieces, None at the answer's end, and last, if "
     "parsing stopped: UNASKED, UPGRADE or llhttp's reason for an error (str)."},
    {"close", (PyCFunction)RParser_close, METH_NOARGS, "Drop the head being parsed."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef RParser_getset[] = {
    {"upgrade_at", (getter)RParser_upgrade_at, NULL,
     "After an upgrade event: where, in the data of that feed, the tunnel's bytes start.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RParserType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "odoo_router.datapath._headparser.ResponseParser",
    .tp_doc = "ResponseParser(): llhttp over an upstream's answers (see respparse.py).",
    .tp_basicsize = sizeof(RParser),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)RParser_dealloc,
    .tp_methods = RParser_methods,
    .tp_getset = RParser_getset,
};

int add_response_parser(PyObject *module) {
    ll.settings_init(&rsettings);
    rsettings.on_message_begin = r_on_message_begin;
    rsettings.on_status = r_on_status;
    rsettings.on_header_field = r_on_header_field;
    rsettings.on_header_value = r_on_header_value;
    rsettings.on_headers_complete = r_on_headers_complete;
    rsettings.on_body = r_on_body;
    rsettings.on_message_complete = r_on_message_complete;
    rsettings.on_chunk_header = r_on_chunk_header;
    rsettings.on_chunk_complete = r_on_chunk_complete;
    if (PyType_Ready(&RParserType) < 0) return -1;
    if (PyModule_AddObjectRef(module, "ResponseParser", (PyObject *)&RParserType) < 0) return -1;
    return PyModule_AddIntConstant(module, "UNASKED", UNASKED);
}
