/* Moves the wall clock of a process, and of every child that inherits LD_PRELOAD, by
 * LOGSTREAM_WALL_CLOCK_SHIFT seconds: clock_gettime(CLOCK_REALTIME*), gettimeofday(), time() and
 * timespec_get(). The monotonic clocks stay real. A wait until a wall-clock deadline (a condition
 * variable on CLOCK_REALTIME or C11's cnd_timedwait, sem_timedwait, a timed mutex or join, an absolute
 * realtime sleep) is
 * given its deadline back on the real clock, since the caller computed it from the shifted one.
 *
 * `make test-future` preloads it to run the test suite "60 days from now". libfaketime (Debian's
 * 0.9.10) was tried first: with its monotonic clock moved, Python's timed lock waits (sem_clockwait,
 * which it does not wrap) wait 60 days; with it left alone, Python's time.sleep fails with EINVAL
 * (its clock_nanosleep wrapper shifts the absolute monotonic deadline) and, with its "monotonic fix",
 * the JVMs' timed waits return at once. Moving only the wall clock needs none of that. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/time.h>
#include <threads.h>
#include <time.h>

static time_t shift_seconds;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void load_shift(void) {
    const char *shift = getenv("LOGSTREAM_WALL_CLOCK_SHIFT");
    shift_seconds = shift ? (time_t)strtoll(shift, NULL, 10) : 0;
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
}

static int wall_clock(clockid_t clock, struct timespec *now) {
    if (real_clock_gettime == NULL) /* called before the constructor ran (another library's) */
        load_shift();
    int result = real_clock_gettime(clock, now);
    if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        now->tv_sec += shift_seconds;
    return result;
}

int clock_gettime(clockid_t clock, struct timespec *now) {
    return wall_clock(clock, now);
}

int gettimeofday(struct timeval *restrict now, void *restrict zone) {
    struct timespec exact;
    (void)zone;
    int result = wall_clock(CLOCK_REALTIME, &exact);
    now->tv_sec = exact.tv_sec;
    now->tv_usec = exact.tv_nsec / 1000;
    return result;
}

time_t time(time_t *now) {
    struct timespec exact;
    wall_clock(CLOCK_REALTIME, &exact);
    if (now != NULL)
        *now = exact.tv_sec;
    return exact.tv_sec;
}

int timespec_get(struct timespec *now, int base) {
    return base == TIME_UTC && wall_clock(CLOCK_REALTIME, now) == 0 ? base : 0;
}

/* a shifted wall-clock deadline on the real clock */
static const struct timespec *real_deadline(const struct timespec *deadline, struct timespec *real) {
    if (deadline == NULL || shift_seconds == 0)
        return deadline;
    *real = *deadline;
    real->tv_sec -= shift_seconds;
    return real;
}

#define NEXT(name) static __typeof__(name) *next; if (next == NULL) next = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

int pthread_cond_timedwait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mutex,
                           const struct timespec *restrict deadline) {
    NEXT(pthread_cond_timedwait);
    struct timespec real;
    /* glibc keeps a condition variable's clock in bit 1 of __wrefs: 0 is CLOCK_REALTIME */
    int realtime = ((cond->__data.__wrefs >> 1) & 1) == 0;
    return next(cond, mutex, realtime ? real_deadline(deadline, &real) : deadline);
}

/* C11's (librdkafka's): always on the wall clock; glibc calls its own pthread code, not the one above */
int cnd_timedwait(cnd_t *restrict cond, mtx_t *restrict mutex, const struct timespec *restrict deadline) {
    NEXT(cnd_timedwait);
    struct timespec real;
    return next(cond, mutex, real_deadline(deadline, &real));
}

int mtx_timedlock(mtx_t *restrict mutex, const struct timespec *restrict deadline) {
    NEXT(mtx_timedlock);
    struct timespec real;
    return next(mutex, real_deadline(deadline, &real));
}

int pthread_cond_clockwait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mutex, clockid_t clock,
                           const struct timespec *restrict deadline) {
    NEXT(pthread_cond_clockwait);
    struct timespec real;
    return next(cond, mutex, clock, clock == CLOCK_REALTIME ? real_deadline(deadline, &real) : deadline);
}

int sem_timedwait(sem_t *restrict sem, const struct timespec *restrict deadline) {
    NEXT(sem_timedwait);
    struct timespec real;
    return next(sem, real_deadline(deadline, &real));
}

int sem_clockwait(sem_t *restrict sem, clockid_t clock, const struct timespec *restrict deadline) {
    NEXT(sem_clockwait);
    struct timespec real;
    return next(sem, clock, clock == CLOCK_REALTIME ? real_deadline(deadline, &real) : deadline);
}

int pthread_mutex_timedlock(pthread_mutex_t *restrict mutex, const struct timespec *restrict deadline) {
    NEXT(pthread_mutex_timedlock);
    struct timespec real;
    return next(mutex, real_deadline(deadline, &real));
}

int pthread_timedjoin_np(pthread_t thread, void **result, const struct timespec *deadline) {
    NEXT(pthread_timedjoin_np);
    struct timespec real;
    return next(thread, result, real_deadline(deadline, &real));
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *until, struct timespec *left) {
    NEXT(clock_nanosleep);
    struct timespec real;
    int absolute_wall = (flags & TIMER_ABSTIME) && clock == CLOCK_REALTIME;
    return next(clock, flags, absolute_wall ? real_deadline(until, &real) : until, left);
}
