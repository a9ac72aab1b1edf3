/* ini.c: being written */
#include "ini.h"
