/* long double arithmetic exactly as Redis 7.0 does it (util.c string2ld / ld2string),
 * so INCRBYFLOAT and HINCRBYFLOAT replies match redis-server byte for byte. Rust has no
 * 80-bit float type, hence this file. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS 5 * 1024

/* Redis's string2ld: 1 on success. */
static int string2ld(const char *s, size_t slen, long double *dp) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    long double value;
    char *eptr;
    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    value = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' || (size_t)(eptr - buf) != slen ||
        ((errno == ERANGE) && (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        isnan(value))
        return 0;
    *dp = value;
    return 1;
}

/* Redis's ld2string with LD_STR_HUMAN. Returns length or 0. */
static int ld2string_human(char *buf, size_t len, long double value) {
    size_t l = 0;
    if (isinf(value)) {
        if (len < 5) return 0;
        if (value > 0) { memcpy(buf, "inf", 3); l = 3; }
        else { memcpy(buf, "-inf", 4); l = 4; }
    } else {
        l = snprintf(buf, len, "%.17Lf", value);
        if (l + 1 > len) return 0;
        if (strchr(buf, '.') != NULL) {
            char *p = buf + l - 1;
            while (*p == '0') { p--; l--; }
            if (*p == '.') l--;
        }
        if (l == 2 && buf[0] == '-' && buf[1] == '0') { buf[0] = '0'; l = 1; }
    }
    buf[l] = '\0';
    return (int)l;
}

/* Parses a (possibly absent) current value and an increment, adds them.
 * Returns: >0 length of the formatted result in out; -1 current value not a float;
 * -2 increment not a float; -3 result NaN or infinite; -4 formatting failed. */
int rustis_ld_incr(const char *cur, size_t curlen, int has_cur, const char *incr, size_t incrlen,
                   char *out, size_t outlen) {
    long double value = 0, inc;
    if (has_cur && !string2ld(cur, curlen, &value)) return -1;
    if (!string2ld(incr, incrlen, &inc)) return -2;
    value += inc;
    if (isnan(value) || isinf(value)) return -3;
    int l = ld2string_human(out, outlen, value);
    if (l <= 0) return -4;
    return l;
}

/* Validates a long double string (for callers that need only the check). */
int rustis_ld_valid(const char *s, size_t slen) {
    long double v;
    return string2ld(s, slen, &v);
}
