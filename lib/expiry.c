/* expiry.c: being written */
#include "expiry.h"
