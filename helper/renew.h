#ifndef PB_RENEW_H
#define PB_RENEW_H
#endif
