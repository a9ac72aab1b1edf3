#include "renew.h"
