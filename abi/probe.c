/* A function that exists only in the ABI guard's test libraries: it is
 * added to the real library's objects to check that a new symbol passes the
 * guard in a new version node and fails it in a node that has shipped. */
#include "micropool.h"

MP_API int mp_abi_probe(void);

int mp_abi_probe(void)
{
    return MICROPOOL_VERSION_MAJOR;
}
