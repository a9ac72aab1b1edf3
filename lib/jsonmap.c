/* jsonmap.c: being written */
#include "jsonmap.h"
