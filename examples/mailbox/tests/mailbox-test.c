// SPDX-License-Identifier: GPL-2.0
/*
 * mailbox-test: drives /dev/mailbox from inside the guest, one line of output per step.
 *
 *   mailbox-test [--nonblock] STEP...   open the device once, then run each step on that descriptor:
 *     write:TEXT   read   read:SIZE   status   seal   seal:FLAGS   reset   poll:MS   sleep:MS
 *     badptr (STATUS with an unmapped pointer)   ioctl:NR (an ioctl number of the 'm' type, no argument)
 *   mailbox-test crowd WRITERS MESSAGES    WRITERS processes each open the device and write MESSAGES
 *                                          messages; this process reads them all and checks each once
 *   mailbox-test wake DELAY_MS             a blocking read, woken by a writer that starts DELAY_MS later
 *
 * A failed step prints "error ENAME STEP" and the next step runs; the exit status is then 1. Usage: 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailbox_uapi.h"

static const char *errname(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EBUSY: return "EBUSY";
	case EFAULT: return "EFAULT";
	case EINTR: return "EINTR";
	case EINVAL: return "EINVAL";
	case EMSGSIZE: return "EMSGSIZE";
	case ENODEV: return "ENODEV";
	case ENOENT: return "ENOENT";
	case ENOTTY: return "ENOTTY";
	case ENXIO: return "ENXIO";
	case EPIPE: return "EPIPE";
	default: return "E?";
	}
}

static const char *state_name(unsigned int s)
{
	return s == MAILBOX_EMPTY ? "EMPTY" : s == MAILBOX_FULL ? "FULL" : s == MAILBOX_SEALED ? "SEALED" : "?";
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int failed;

static void fail(const char *step)
{
	printf("error %s %s\n", errname(errno), step);
	failed = 1;
}

static int open_box(int flags)
{
	int fd = open(MAILBOX_DEVICE, O_RDWR | flags);

	if (fd < 0) {
		fail("open");
		fflush(stdout);
		exit(1);
	}
	return fd;
}

static void step(int fd, const char *s)
{
	char buf[65536 + 1];
	struct mailbox_status st;
	ssize_t n;

	if (strncmp(s, "write:", 6) == 0) {
		n = write(fd, s + 6, strlen(s + 6));
		if (n < 0)
			return fail(s);
		printf("write %zd\n", n);
	} else if (strcmp(s, "read") == 0 || strncmp(s, "read:", 5) == 0) {
		size_t size = s[4] == ':' ? strtoul(s + 5, NULL, 0) : sizeof(buf) - 1;

		n = read(fd, buf, size < sizeof(buf) - 1 ? size : sizeof(buf) - 1);
		if (n < 0)
			return fail(s);
		buf[n] = '\0';
		printf(n ? "read %zd %s\n" : "read %zd\n", n, buf); /* "read 0": end of file */
	} else if (strcmp(s, "status") == 0) {
		if (ioctl(fd, MAILBOX_IOC_STATUS, &st) < 0)
			return fail(s);
		printf("status %s len=%u capacity=%u openers=%u\n", state_name(st.state), st.len, st.capacity, st.openers);
	} else if (strcmp(s, "seal") == 0 || strncmp(s, "seal:", 5) == 0) {
		if (ioctl(fd, MAILBOX_IOC_SEAL, s[4] == ':' ? strtoul(s + 5, NULL, 0) : 0UL) < 0)
			return fail(s);
		printf("seal\n");
	} else if (strcmp(s, "reset") == 0) {
		if (ioctl(fd, MAILBOX_IOC_RESET, 0UL) < 0)
			return fail(s);
		printf("reset\n");
	} else if (strncmp(s, "poll:", 5) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
		int r = poll(&p, 1, atoi(s + 5));

		if (r < 0)
			return fail(s);
		printf("poll in=%d out=%d\n", !!(p.revents & POLLIN), !!(p.revents & POLLOUT));
	} else if (strncmp(s, "sleep:", 6) == 0) {
		usleep(atoi(s + 6) * 1000);
		printf("slept\n");
	} else if (strcmp(s, "badptr") == 0) {
		if (ioctl(fd, MAILBOX_IOC_STATUS, (void *)16) < 0)
			return fail(s);
		printf("badptr accepted\n");
	} else if (strncmp(s, "ioctl:", 6) == 0) {
		if (ioctl(fd, _IO(MAILBOX_IOC_MAGIC, atoi(s + 6)), 0UL) < 0)
			return fail(s);
		printf("ioctl ok\n");
	} else {
		fprintf(stderr, "mailbox-test: unknown step '%s'\n", s);
		exit(2);
	}
}

/* WRITERS processes write MESSAGES messages each ("w<i>-<j>"); every one must be read exactly once. */
static int crowd(int writers, int messages)
{
	int fd = open_box(0), seen_total = 0, dup = 0, i, status, bad_children = 0;
	char *seen = calloc((size_t)writers * messages, 1);
	char buf[64];

	for (i = 0; i < writers; i++) {
		if (fork() == 0) {
			int w = open_box(0), j;

			for (j = 0; j < messages; j++) {
				int len = snprintf(buf, sizeof(buf), "w%d-%d", i, j);

				if (write(w, buf, len) != len)
					_exit(1);
			}
			_exit(0);
		}
	}
	while (seen_total < writers * messages) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		int w, m;

		if (n <= 0) {
			fail("crowd read");
			break;
		}
		buf[n] = '\0';
		if (sscanf(buf, "w%d-%d", &w, &m) != 2 || w < 0 || w >= writers || m < 0 || m >= messages) {
			printf("garbled %s\n", buf);
			return 1;
		}
		dup += seen[w * messages + m]++ != 0;
		seen_total++;
	}
	while (wait(&status) > 0)
		bad_children += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	printf("crowd received=%d duplicates=%d failed_writers=%d\n", seen_total, dup, bad_children);
	return failed || dup || bad_children;
}

/* A read that must sleep until a writer, started delay_ms later, fills the box. */
static int wake(int delay_ms)
{
	int fd = open_box(0), status;
	char buf[64];
	long start = now_ms();
	ssize_t n;

	if (fork() == 0) {
		int w = open_box(0);

		usleep(delay_ms * 1000);
		_exit(write(w, "wake up", 7) == 7 ? 0 : 1);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		fail("wake read");
	else
		printf("woken after_ms=%ld read=%.*s\n", now_ms() - start, (int)n, buf);
	wait(&status);
	return failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

int main(int argc, char **argv)
{
	int i = 1, flags = 0, fd;

	if (argc >= 4 && strcmp(argv[1], "crowd") == 0)
		return crowd(atoi(argv[2]), atoi(argv[3]));
	if (argc >= 3 && strcmp(argv[1], "wake") == 0)
		return wake(atoi(argv[2]));
	if (i < argc && strcmp(argv[i], "--nonblock") == 0) {
		flags = O_NONBLOCK;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: mailbox-test [--nonblock] STEP... | crowd WRITERS MESSAGES | wake DELAY_MS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open_box(flags);
	for (; i < argc; i++)
		step(fd, argv[i]);
	close(fd);
	return failed;
}
