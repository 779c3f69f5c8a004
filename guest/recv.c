/* ktest-recv: receives files from the host over a virtio-serial port (the fast files channel).
 *
 * Usage: ktest-recv PORTNAME SIZE MODE PATH [SIZE MODE PATH ...]
 *
 * Finds the virtio port whose name is PORTNAME (/sys/class/virtio-ports/vport*p* /name, no udev in the
 * guest), opens it, and for each triple reads exactly SIZE bytes into PATH (parents created, MODE octal).
 * The host writes the files back to back in the same order; nothing is read past the last byte, so the
 * next receive starts on a clean stream. Exit 0 when every file is complete, 1 otherwise (one line on
 * stderr). Waits up to 2 s for the port to appear and 20 s between two chunks of data.
 * Plain C, no dependencies: musl-gcc -static -Os -o ktest-recv recv.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio-port.h"

#define DATA_TIMEOUT_MS 20000

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "ktest-recv: %s %s: %s\n", what, arg, errno ? strerror(errno) : "failed");
	return 1;
}


static void make_parents(char *path)
{
	char *p;
	for (p = path + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		mkdir(path, 0755);
		*p = '/';
	}
}

static int receive(int port, char *path, unsigned long size, mode_t mode)
{
	static char buf[65536];
	int out;
	make_parents(path);
	unlink(path);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) return fail("cannot create", path);
	while (size > 0) {
		struct pollfd p = { .fd = port, .events = POLLIN };
		ssize_t r, w, off = 0;
		int ready = poll(&p, 1, DATA_TIMEOUT_MS);
		if (ready < 0 && errno == EINTR) continue;
		if (ready == 0) {
			errno = ETIMEDOUT;
			close(out);
			return fail("no data from the host for", path);
		}
		r = read(port, buf, size < sizeof buf ? size : sizeof buf);
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
		if (r <= 0) {
			close(out);
			return fail("port closed while receiving", path);
		}
		for (; off < r; off += w) {
			w = write(out, buf + off, (size_t)(r - off));
			if (w < 0) {
				close(out);
				return fail("cannot write", path);
			}
		}
		size -= (unsigned long)r;
	}
	fchmod(out, mode);
	if (close(out) < 0) return fail("cannot write", path);
	return 0;
}

int main(int argc, char **argv)
{
	char dev[300];
	int i, port, tries;
	if (argc < 5 || (argc - 2) % 3) {
		fprintf(stderr, "usage: ktest-recv PORTNAME SIZE MODE PATH [SIZE MODE PATH ...]\n");
		return 2;
	}
	for (tries = 0; find_virtio_port(argv[1], dev, sizeof dev), !dev[0] && tries < 200; tries++) usleep(10000);
	if (!dev[0]) {
		errno = ENOENT;
		return fail("no virtio port named", argv[1]);
	}
	port = open(dev, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (port < 0) return fail("cannot open", dev);
	for (i = 2; i + 2 < argc; i += 3) {
		char *end;
		unsigned long size = strtoul(argv[i], &end, 10);
		unsigned long mode = strtoul(argv[i + 1], &end, 8);
		if (receive(port, argv[i + 2], size, (mode_t)mode)) return 1;
	}
	close(port);
	return 0;
}
