/* jwt.c: being written */
#include "jwt.h"
