/* join(pieces) -> bytes: b"".join for the data path's heads (a list of bytes, most of them a
   few bytes long: "name", ": ", "value", CRLF). CPython's join takes a buffer of each piece
   and releases it, about 100 instructions a piece; a head of 10 to 30 pieces is joined for
   every request and every response, so this one only sums and copies. Anything but a list
   of exact bytes goes to CPython's join (same result, same errors). */
#include "_headparser.h"

PyObject *join_pieces(PyObject *Py_UNUSED(module), PyObject *pieces) {
    if (!PyList_CheckExact(pieces)) return _PyBytes_Join(empty_bytes, pieces);
    Py_ssize_t n = PyList_GET_SIZE(pieces), total = 0;
    PyObject **items = ((PyListObject *)pieces)->ob_item;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_CheckExact(items[i])) return _PyBytes_Join(empty_bytes, pieces);
        total += PyBytes_GET_SIZE(items[i]);
    }
    if (n == 1) return Py_NewRef(items[0]);
    PyObject *out = PyBytes_FromStringAndSize(NULL, total);
    if (out == NULL) return NULL;
    char *at = PyBytes_AS_STRING(out);
    /* No Python code runs below: the list cannot change under the copy. */
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t size = PyBytes_GET_SIZE(items[i]);
        memcpy(at, PyBytes_AS_STRING(items[i]), (size_t)size);
        at += size;
    }
    return out;
}
