/* template.c: being written */
#include "template.h"
