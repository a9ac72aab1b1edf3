/* fetch.c: being written */
#include "fetch.h"
