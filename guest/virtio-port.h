/* SPDX-License-Identifier: GPL-2.0 */
/* Finding a virtio-serial port by the name QEMU gave it (shared by guest/agent.c and guest/recv.c). */
#ifndef KTEST_VIRTIO_PORT_H
#define KTEST_VIRTIO_PORT_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* /dev/vportNpM of the virtio port named `name`, or "" when none (yet). */
static inline void find_virtio_port(const char *name, char *dev, size_t n)
{
	char path[300], got[128];
	struct dirent *e;
	DIR *d = opendir("/sys/class/virtio-ports");
	dev[0] = 0;
	if (!d) return;
	while ((e = readdir(d))) {
		int fd;
		ssize_t r;
		if (e->d_name[0] == '.') continue;
		snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0) continue;
		r = read(fd, got, sizeof got - 1);
		close(fd);
		if (r <= 0) continue;
		got[r] = 0;
		got[strcspn(got, "\n")] = 0;
		if (!strcmp(got, name)) {
			snprintf(dev, n, "/dev/%s", e->d_name);
			break;
		}
	}
	closedir(d);
}

#endif
