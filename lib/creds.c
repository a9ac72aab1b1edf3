/* creds.c: being written */
#include "creds.h"
