/* error.c: version and error strings. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>

_Static_assert(MP_EINVAL == -EINVAL, "MP_EINVAL");
_Static_assert(MP_ENOMEM == -ENOMEM, "MP_ENOMEM");
_Static_assert(MP_EBUSY == -EBUSY, "MP_EBUSY");
_Static_assert(MP_EDEADLK == -EDEADLK, "MP_EDEADLK");
_Static_assert(MP_ESHUTDOWN == -ESHUTDOWN, "MP_ESHUTDOWN");
_Static_assert(MP_ECANCELED == -ECANCELED, "MP_ECANCELED");
_Static_assert(MP_ETIMEDOUT == -ETIMEDOUT, "MP_ETIMEDOUT");

#define MP_STR2(x) #x
#define MP_STR(x) MP_STR2(x)

const char *mp_version(void)
{
    return MP_STR(MICROPOOL_VERSION_MAJOR) "." MP_STR(MICROPOOL_VERSION_MINOR) "."
           MP_STR(MICROPOOL_VERSION_PATCH);
}

const char *mp_strerror(int code)
{
    static _Thread_local char buf[48];

    switch (code) {
    case MP_OK:        return "success";
    case MP_EINVAL:    return "invalid argument";
    case MP_ENOMEM:    return "out of memory";
    case MP_EBUSY:     return "task already started or finished";
    case MP_EDEADLK:   return "call would wait on itself";
    case MP_ESHUTDOWN: return "pool is shutting down";
    case MP_ECANCELED: return "task was cancelled";
    case MP_ETIMEDOUT: return "timed out";
    default:
        snprintf(buf, sizeof buf, "callback error %d", code);
        return buf;
    }
}
