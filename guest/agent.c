/* ktest-agent: runs the host's commands in the guest over a dedicated serial port (see rig/vm/agent-protocol.ts).
 *
 * Usage: ktest-agent [PORT]   (PORT: /dev/ttyS1, ttyS1, or taken from ktest.port= in /proc/cmdline;
 *                             "-" speaks the protocol on stdin/stdout, for host-side tests)
 *
 * Frames from the host arrive on PORT. With ktest.out=NAME on the kernel command line, every frame to
 * the host goes out on the virtio-serial port named NAME instead (the results channel): fast (output
 * moves through virtqueues, not a byte at a time through an emulated UART), and opened once at boot
 * and held, so no other process can open it (a virtio port admits one opener: EBUSY). The host reads
 * frames only from there, so a frame written to PORT by anyone is never a result. The agent is also
 * not dumpable (PR_SET_DUMPABLE 0): processes without CAP_SYS_PTRACE cannot read its memory.
 *
 * One poll() loop over the port, a SIGCHLD self-pipe and every child's stdout/stderr/stdin pipes.
 * Each command runs in its own session (fork + setsid + execvp); its process group is SIGKILLed at
 * its timeout or on a K frame. Output is read only while the outgoing queue is short, so a child that
 * floods blocks on its pipe instead of growing the agent's memory. Reaps every child (may be PID 1).
 * Plain C, no dependencies: musl-gcc -static -Os -o ktest-agent agent.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "virtio-port.h"

#define AGENT_MAX_LINE (1024 * 1024) /* MAX_REQUEST_LINE in rig/vm/agent-protocol.ts */
#define MAX_CMDS 64
#define MAX_NONCE 64
#define CHUNK 32768                  /* raw bytes per O frame (OUTPUT_CHUNK_BYTES; its base64 line fits MAX_FRAME_LINE) */
#define OUTQ_HIGH (256 * 1024)       /* stop reading children above this much queued output */
#define DEFAULT_PATH "/bin:/sbin:/usr/bin:/usr/sbin"

struct cmd {
	int used;
	uint32_t id;
	char nonce[MAX_NONCE + 1];
	pid_t pid;
	int out[3];          /* [1] stdout, [2] stderr read ends; -1 once closed */
	int in;              /* stdin write end, -1 once closed */
	unsigned char *inbuf;
	size_t inlen, inoff;
	long long start_ms, deadline_ms; /* deadline 0: none */
	int exited, status, timedout;
	int pty;             /* out[1] is a pty master (rig shell): input and window size go to it */
};

static struct cmd cmds[MAX_CMDS];
static int tty = -1;         /* port, read side */
static int tty_out = -1;     /* frames to the host: the port, the results channel (ktest.out=), or stdout ("-") */
static int stdio_mode;       /* PORT is "-": host-side tests */
static int sigpipe_fds[2] = { -1, -1 };
static unsigned char *outq;
static size_t outq_len, outq_cap;
static char *inl;            /* partial incoming line */
static size_t inl_len;
static int inl_skip;         /* dropping an over-long line until its newline */
static int input_closed;     /* stdio mode only: stdin reached EOF */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
	fprintf(stderr, "ktest-agent: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) die("out of memory");
	return q;
}

/* ---- base64 ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const unsigned char *src, size_t n, char *dst)
{
	size_t o = 0, i;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
		dst[o++] = b64chars[v >> 18];
		dst[o++] = b64chars[(v >> 12) & 63];
		dst[o++] = b64chars[(v >> 6) & 63];
		dst[o++] = b64chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);
		dst[o++] = b64chars[v >> 18];
		dst[o++] = b64chars[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		dst[o++] = '=';
	}
	return o;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Decodes a field in place ("-" is empty); returns the length or -1 when it is not strict base64. */
static long b64_decode_field(char *s)
{
	size_t n = strlen(s), o = 0, i;
	if (n == 1 && s[0] == '-') return 0;
	if (n == 0 || n % 4) return -1;
	for (i = 0; i < n; i += 4) {
		int a = b64_val(s[i]), b = b64_val(s[i + 1]), c = b64_val(s[i + 2]), d = b64_val(s[i + 3]);
		int last = i + 4 == n;
		if (a < 0 || b < 0) return -1;
		if (c < 0 && !(last && s[i + 2] == '=' && s[i + 3] == '=')) return -1;
		if (d < 0 && !(last && s[i + 3] == '=')) return -1;
		s[o++] = (char)(a << 2 | b >> 4);
		if (c >= 0) s[o++] = (char)((b & 15) << 4 | c >> 2);
		if (d >= 0) s[o++] = (char)((c & 3) << 6 | d);
	}
	return (long)o;
}

/* ---- outgoing queue ---- */

static void outq_reserve(size_t n)
{
	if (outq_len + n <= outq_cap) return;
	while (outq_len + n > outq_cap) outq_cap = outq_cap ? outq_cap * 2 : 16384;
	outq = xrealloc(outq, outq_cap);
}

static void outq_printf(const char *fmt, ...)
{
	va_list ap;
	int n;
	outq_reserve(256);
	va_start(ap, fmt);
	n = vsnprintf((char *)outq + outq_len, outq_cap - outq_len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < outq_cap - outq_len) outq_len += (size_t)n;
}

static void send_output(struct cmd *c, int stream, const unsigned char *data, size_t n)
{
	outq_printf("O %s %u %d ", c->nonce, c->id, stream);
	outq_reserve((n + 2) / 3 * 4 + 1);
	outq_len += b64_encode(data, n, (char *)outq + outq_len);
	outq[outq_len++] = '\n';
}

static void send_failed(const char *nonce, uint32_t id, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	outq_printf("F %s %u ", nonce, id);
	outq_reserve(sizeof msg * 4 / 3 + 8);
	outq_len += b64_encode((unsigned char *)msg, strlen(msg), (char *)outq + outq_len);
	outq[outq_len++] = '\n';
}

static void flush_tty(void)
{
	while (outq_len) {
		ssize_t w = write(tty_out, outq, outq_len);
		if (w < 0) {
			if (errno == EINTR) continue;
			/* never exit over the port: as PID 1 that would panic the guest; keep the queue */
			if (errno != EAGAIN) usleep(10000);
			return;
		}
		memmove(outq, outq + w, outq_len - (size_t)w);
		outq_len -= (size_t)w;
	}
}

/* ---- signals ---- */

static const struct { int sig; const char *name; } signames[] = {
	{ SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" }, { SIGILL, "SIGILL" },
	{ SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" }, { SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" },
	{ SIGKILL, "SIGKILL" }, { SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
	{ SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" }, { SIGCHLD, "SIGCHLD" },
	{ SIGCONT, "SIGCONT" }, { SIGSTOP, "SIGSTOP" }, { SIGTSTP, "SIGTSTP" }, { SIGTTIN, "SIGTTIN" },
	{ SIGTTOU, "SIGTTOU" }, { SIGURG, "SIGURG" }, { SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" },
	{ SIGVTALRM, "SIGVTALRM" }, { SIGPROF, "SIGPROF" }, { SIGWINCH, "SIGWINCH" }, { SIGIO, "SIGIO" },
	{ SIGPWR, "SIGPWR" }, { SIGSYS, "SIGSYS" },
};

static void signame(int sig, char *buf, size_t n)
{
	size_t i;
	for (i = 0; i < sizeof signames / sizeof signames[0]; i++)
		if (signames[i].sig == sig) {
			snprintf(buf, n, "%s", signames[i].name);
			return;
		}
	snprintf(buf, n, "SIG%d", sig);
}

static void on_sigchld(int sig)
{
	int saved = errno;
	(void)sig;
	if (write(sigpipe_fds[1], "c", 1) < 0) { /* pipe full: a wakeup is already pending */ }
	errno = saved;
}

/* ---- commands ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0) close(*fd);
	*fd = -1;
}

static struct cmd *find_cmd(uint32_t id, const char *nonce)
{
	int i;
	for (i = 0; i < MAX_CMDS; i++)
		if (cmds[i].used && cmds[i].id == id && !strcmp(cmds[i].nonce, nonce)) return &cmds[i];
	return NULL;
}

static void finish_if_done(struct cmd *c)
{
	char sig[24];
	if (!c->exited || c->out[1] >= 0 || c->out[2] >= 0) return;
	close_fd(&c->in);
	free(c->inbuf);
	c->inbuf = NULL;
	if (WIFSIGNALED(c->status)) {
		signame(WTERMSIG(c->status), sig, sizeof sig);
		outq_printf("E %s %u - %s %d %lld\n", c->nonce, c->id, sig, c->timedout, now_ms() - c->start_ms);
	} else {
		outq_printf("E %s %u %d - %d %lld\n", c->nonce, c->id, WEXITSTATUS(c->status), c->timedout,
			    now_ms() - c->start_ms);
	}
	c->used = 0;
}

/* Reads one chunk from a child's pipe; after the child exited, drains to EAGAIN and closes. */
static void read_child(struct cmd *c, int stream)
{
	unsigned char buf[CHUNK];
	for (;;) {
		ssize_t r = read(c->out[stream], buf, sizeof buf);
		if (r > 0) {
			send_output(c, stream, buf, (size_t)r);
			if (!c->exited) return;
			continue;
		}
		if (r < 0 && errno == EINTR) continue;
		/* EOF, or no data left once the command exited (a background grandchild may hold the pipe) */
		if (r == 0 || c->exited || errno != EAGAIN) close_fd(&c->out[stream]);
		return;
	}
}

static void write_child_stdin(struct cmd *c)
{
	while (c->inoff < c->inlen) {
		ssize_t w = write(c->in, c->inbuf + c->inoff, c->inlen - c->inoff);
		if (w < 0) {
			if (errno == EINTR) continue;
			if (errno == EAGAIN) return;
			break; /* EPIPE: the command does not read its stdin */
		}
		c->inoff += (size_t)w;
	}
	close_fd(&c->in);
	free(c->inbuf);
	c->inbuf = NULL;
}

static void reap(void)
{
	char drain[64];
	int status, i;
	pid_t pid;
	while (read(sigpipe_fds[0], drain, sizeof drain) > 0) {}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < MAX_CMDS; i++) {
			struct cmd *c = &cmds[i];
			if (!c->used || c->pid != pid) continue;
			c->exited = 1;
			c->status = status;
			/* make sure nothing of the group outlives the command */
			kill(-pid, SIGKILL);
			if (c->out[1] >= 0) read_child(c, 1);
			if (c->out[2] >= 0) read_child(c, 2);
			finish_if_done(c);
		}
	}
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* In a forked child: a new session with default signals and nothing blocked (the agent's own
 * dispositions must not leak into commands). */
static void child_reset(void)
{
	sigset_t none;
	setsid();
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In a forked child: report errno on the exec pipe (the parent reads it) and exit 127. */
static void child_fail(int errpipe)
{
	int e = errno;
	if (write(errpipe, &e, sizeof e) < 0) {}
	_exit(127);
}

static void child_exec(char **argv, int in_fd, int out_fd, int err_fd, int errpipe)
{
	child_reset();
	if (in_fd < 0) in_fd = open("/dev/null", O_RDONLY);
	if (in_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) child_fail(errpipe);
	/* the pipes are O_CLOEXEC and dup2 gave 0-2 plain copies; /dev/null is not: close it */
	if (in_fd > 2) close(in_fd);
	if (chdir("/") < 0) {}
	execvp(argv[0], argv);
	child_fail(errpipe);
}

/* Decode a command's base64 argv in place and find a free command slot: the slot, or -1 after the
 * failure was sent (malformed or NUL-bearing argv, empty argv[0], id in use, no free slot). */
static int claim_slot(const char *nonce, uint32_t id, char **argv)
{
	int i;
	for (i = 0; argv[i]; i++) {
		long n = b64_decode_field(argv[i]);
		if (n < 0) { send_failed(nonce, id, "malformed argv[%d]", i); return -1; }
		if (memchr(argv[i], 0, (size_t)n)) { send_failed(nonce, id, "argv[%d] contains NUL", i); return -1; }
		argv[i][n] = 0;
	}
	if (!argv[0][0]) { send_failed(nonce, id, "empty argv[0]"); return -1; }
	if (find_cmd(id, nonce)) { send_failed(nonce, id, "command id %u is already running", id); return -1; }
	for (i = 0; i < MAX_CMDS; i++)
		if (!cmds[i].used) return i;
	send_failed(nonce, id, "too many concurrent commands (max %d)", MAX_CMDS);
	return -1;
}

static void start_cmd(const char *nonce, uint32_t id, long long timeout, char *stdin_field, char **argv)
{
	int slot = -1, p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 }, p_in[2] = { -1, -1 }, p_exec[2];
	long inlen = b64_decode_field(stdin_field);
	struct cmd *c;
	pid_t pid;
	int e = 0;
	ssize_t r;

	if (inlen < 0) { send_failed(nonce, id, "malformed stdin field"); return; }
	if ((slot = claim_slot(nonce, id, argv)) < 0) return;

	if (pipe2(p_out, O_CLOEXEC) < 0 || pipe2(p_err, O_CLOEXEC) < 0 || (inlen > 0 && pipe2(p_in, O_CLOEXEC) < 0) ||
	    pipe2(p_exec, O_CLOEXEC) < 0) {
		e = errno;
		close_fd(&p_out[0]); close_fd(&p_out[1]); close_fd(&p_err[0]); close_fd(&p_err[1]);
		close_fd(&p_in[0]); close_fd(&p_in[1]);
		send_failed(nonce, id, "pipe: %s", strerror(e));
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p_exec[0]);
		close(p_out[0]); close(p_err[0]);
		if (p_in[1] >= 0) close(p_in[1]);
		child_exec(argv, p_in[0], p_out[1], p_err[1], p_exec[1]);
	}
	if (pid < 0) e = errno;
	close(p_exec[1]);
	close(p_out[1]); close(p_err[1]);
	close_fd(&p_in[0]);
	if (pid > 0) {
		do r = read(p_exec[0], &e, sizeof e); while (r < 0 && errno == EINTR);
		if (r != sizeof e) e = 0;
	}
	close(p_exec[0]);
	if (e) {
		close(p_out[0]); close(p_err[0]); close_fd(&p_in[1]);
		if (pid > 0) while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
		send_failed(nonce, id, "%s %s: %s", pid < 0 ? "fork" : "exec", argv[0], strerror(e));
		return;
	}

	c = &cmds[slot];
	memset(c, 0, sizeof *c);
	c->used = 1;
	c->id = id;
	snprintf(c->nonce, sizeof c->nonce, "%s", nonce);
	c->pid = pid;
	c->out[0] = -1;
	c->out[1] = p_out[0];
	c->out[2] = p_err[0];
	c->in = p_in[1];
	set_nonblock(c->out[1]);
	set_nonblock(c->out[2]);
	if (c->in >= 0) {
		set_nonblock(c->in);
		c->inbuf = xrealloc(NULL, (size_t)inlen);
		memcpy(c->inbuf, stdin_field, (size_t)inlen);
		c->inlen = (size_t)inlen;
		write_child_stdin(c);
	}
	c->start_ms = now_ms();
	c->deadline_ms = timeout > 0 ? c->start_ms + timeout : 0;
}

/* ---- kernel log reader (L frames) ----
 * The agent opens /dev/kmsg at start and keeps reading it into a bounded buffer of its own. A reader
 * of /dev/kmsg keeps its position whatever user space does to the ring buffer (dmesg -c, klogctl), so
 * no test can hide a kernel report from the verdict. Records the kernel overwrote before we read them
 * (EPIPE, a jump in sequence numbers) and records dropped from our own buffer are counted and reported.
 * Each record is kept as its first line: "<prio>,<seq>,<usec>,<flags>;<message>" (the message escaped
 * by the kernel: non-printable bytes are \xNN). prio >> 3 is the facility: 0 only for the kernel's own
 * messages (a write to /dev/kmsg cannot choose facility 0; its default is 1, user). */

#define KMSG_BUF (1024 * 1024)       /* records kept; the oldest go first */
#define KMSG_RECORD 8192             /* longest record the kernel hands out (PRINTK_MESSAGE_MAX) */

static int kmsg_fd = -1;
static char *kmsg_buf;               /* records, each ending in '\n' */
static size_t kmsg_len;
static unsigned long long kmsg_next; /* sequence number expected next */
static unsigned long long kmsg_lost; /* overwritten by the kernel before we read them */
static unsigned long long kmsg_dropped; /* dropped from our buffer (it was full) */
static unsigned long long kmsg_first; /* sequence number of the oldest record kept */

static void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0) kmsg_buf = xrealloc(NULL, KMSG_BUF);
}

/* Keep one record (its first line); make room by dropping the oldest whole records. */
static void kmsg_keep(const char *rec, size_t n)
{
	while (kmsg_len + n + 1 > KMSG_BUF && kmsg_len) {
		char *nl = memchr(kmsg_buf, '\n', kmsg_len);
		size_t cut = nl ? (size_t)(nl - kmsg_buf) + 1 : kmsg_len;
		memmove(kmsg_buf, kmsg_buf + cut, kmsg_len - cut);
		kmsg_len -= cut;
		kmsg_dropped++;
		kmsg_first++;
	}
	if (n + 1 > KMSG_BUF) return;
	memcpy(kmsg_buf + kmsg_len, rec, n);
	kmsg_len += n;
	kmsg_buf[kmsg_len++] = '\n';
}

/* Read every record available now (each read() returns one record). */
static void kmsg_drain(void)
{
	static char rec[KMSG_RECORD + 1];
	for (;;) {
		ssize_t r = read(kmsg_fd, rec, KMSG_RECORD);
		if (r < 0) {
			if (errno == EINTR) continue;
			if (errno == EPIPE) { /* the kernel overwrote records we had not read: the gap is counted below */
				continue;
			}
			return; /* EAGAIN: nothing more now */
		}
		if (r == 0) return;
		rec[r] = 0;
		{
			char *semi = memchr(rec, ';', (size_t)r), *nl, *comma = strchr(rec, ',');
			unsigned long long seq = comma ? strtoull(comma + 1, NULL, 10) : kmsg_next;
			if (!semi) continue;
			nl = memchr(semi, '\n', (size_t)(rec + r - semi));
			if (seq > kmsg_next && (kmsg_next > 0 || kmsg_len > 0)) kmsg_lost += seq - kmsg_next;
			if (kmsg_len == 0 && kmsg_dropped == 0 && kmsg_next == 0) kmsg_first = seq;
			kmsg_next = seq + 1;
			kmsg_keep(rec, nl ? (size_t)(nl - rec) : (size_t)r);
		}
	}
}

/* L <nonce> <id> <from_seq>: a header line, then the kept records with seq >= from_seq, as the
 * stdout of command <id>, then an E frame with status 0. Header: "#kmsg next=N first=N lost=N dropped=N". */
static void kmsg_send(const char *nonce, uint32_t id, unsigned long long from)
{
	struct cmd fake;
	char head[160];
	size_t off = 0, start = 0, n;
	if (kmsg_fd < 0) { send_failed(nonce, id, "/dev/kmsg is not open"); return; }
	kmsg_drain();
	memset(&fake, 0, sizeof fake);
	fake.id = id;
	snprintf(fake.nonce, sizeof fake.nonce, "%s", nonce);
	n = (size_t)snprintf(head, sizeof head, "#kmsg next=%llu first=%llu lost=%llu dropped=%llu\n", kmsg_next, kmsg_first,
			     kmsg_lost, kmsg_dropped);
	send_output(&fake, 1, (unsigned char *)head, n);
	/* skip records before `from` (sequence numbers are consecutive in the buffer, gaps aside) */
	while (off < kmsg_len) {
		char *nl = memchr(kmsg_buf + off, '\n', kmsg_len - off);
		char *comma = memchr(kmsg_buf + off, ',', kmsg_len - off);
		size_t end = nl ? (size_t)(nl - kmsg_buf) + 1 : kmsg_len;
		if (comma && strtoull(comma + 1, NULL, 10) >= from) break;
		off = end;
	}
	for (start = off; start < kmsg_len; start += n) {
		n = kmsg_len - start < CHUNK ? kmsg_len - start : CHUNK;
		send_output(&fake, 1, (unsigned char *)kmsg_buf + start, n);
	}
	outq_printf("E %s %u 0 - 0 0\n", nonce, id);
}

/* ---- pty sessions (rig shell): T starts argv on a new pty, I writes to it, W resizes it ---- */

/* /dev/pts is not mounted by init (commands use pipes): mount devpts on first use. */
static int ensure_devpts(void)
{
	if (access("/dev/pts/ptmx", F_OK) == 0) return 0;
	mkdir("/dev/pts", 0755);
	if (mount("devpts", "/dev/pts", "devpts", 0, "gid=5,mode=620,ptmxmode=666") < 0 && errno != EBUSY) return -1;
	return 0;
}

static void pty_child(char **argv, const char *slave_name, int errpipe)
{
	int fd;
	child_reset();
	fd = open(slave_name, O_RDWR); /* the session leader's first tty: its controlling terminal */
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) child_fail(errpipe);
	if (fd > 2) close(fd);
	setenv("TERM", "linux", 1);
	if (chdir("/") < 0) {}
	execvp(argv[0], argv);
	child_fail(errpipe);
}

static void start_pty_cmd(const char *nonce, uint32_t id, long long rows, long long cols, char **argv)
{
	int slot = -1, master = -1, p_exec[2] = { -1, -1 }, e = 0;
	struct winsize ws;
	struct cmd *c;
	char *slave_name;
	pid_t pid = -1;
	ssize_t r;

	if ((slot = claim_slot(nonce, id, argv)) < 0) return;
	if (ensure_devpts() < 0) { send_failed(nonce, id, "mount devpts: %s", strerror(errno)); return; }
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(slave_name = ptsname(master))) {
		send_failed(nonce, id, "pty: %s", strerror(errno));
		close_fd(&master);
		return;
	}
	memset(&ws, 0, sizeof ws);
	ws.ws_row = (unsigned short)rows;
	ws.ws_col = (unsigned short)cols;
	ioctl(master, TIOCSWINSZ, &ws);
	if (pipe2(p_exec, O_CLOEXEC) < 0) {
		send_failed(nonce, id, "pipe: %s", strerror(errno));
		close_fd(&master);
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p_exec[0]);
		pty_child(argv, slave_name, p_exec[1]);
	}
	if (pid < 0) e = errno;
	close(p_exec[1]);
	if (pid > 0) {
		do r = read(p_exec[0], &e, sizeof e); while (r < 0 && errno == EINTR);
		if (r != sizeof e) e = 0;
	}
	close(p_exec[0]);
	if (e) {
		close_fd(&master);
		if (pid > 0) while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
		send_failed(nonce, id, "%s %s: %s", pid < 0 ? "fork" : "exec", argv[0], strerror(e));
		return;
	}
	c = &cmds[slot];
	memset(c, 0, sizeof *c);
	c->used = 1;
	c->id = id;
	snprintf(c->nonce, sizeof c->nonce, "%s", nonce);
	c->pid = pid;
	c->pty = 1;
	c->out[0] = -1;
	c->out[1] = master;
	c->out[2] = -1;
	c->in = -1;
	set_nonblock(master);
	c->start_ms = now_ms();
}

/* Keyboard input for a pty session (a few bytes at a time: a short blocking retry is fine). */
static void pty_input(const char *nonce, uint32_t id, char *field)
{
	struct cmd *c = find_cmd(id, nonce);
	long n = b64_decode_field(field), off = 0;
	int tries = 0;
	if (!c || !c->pty || c->out[1] < 0 || n <= 0) return;
	while (off < n && tries < 100) {
		ssize_t w = write(c->out[1], field + off, (size_t)(n - off));
		if (w > 0) { off += w; continue; }
		if (w < 0 && errno != EAGAIN && errno != EINTR) return;
		tries++;
		usleep(1000);
	}
}

/* New window size: the kernel sends SIGWINCH to the pty's foreground process group. */
static void pty_resize(const char *nonce, uint32_t id, long long rows, long long cols)
{
	struct cmd *c = find_cmd(id, nonce);
	struct winsize ws;
	if (!c || !c->pty || c->out[1] < 0) return;
	memset(&ws, 0, sizeof ws);
	ws.ws_row = (unsigned short)rows;
	ws.ws_col = (unsigned short)cols;
	ioctl(c->out[1], TIOCSWINSZ, &ws);
}

/* ---- incoming frames ---- */

static int valid_nonce(const char *s)
{
	size_t n = strlen(s), i;
	if (n == 0 || n > MAX_NONCE) return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

static int parse_uint(const char *s, long long max, long long *out)
{
	long long v = 0;
	if (!*s || strlen(s) > 10 || (s[0] == '0' && s[1])) return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9') return 0;
		v = v * 10 + (*s - '0');
	}
	if (v > max) return 0;
	*out = v;
	return 1;
}

static void handle_line(char *line)
{
	static char *f[AGENT_MAX_LINE / 2 + 8];
	size_t n = 0;
	long long id, timeout, from;
	char *p = line;
	struct cmd *c;

	if (*line == 0) return;
	for (;;) {
		f[n++] = p;
		p = strchr(p, ' ');
		if (!p) break;
		*p++ = 0;
	}
	f[n] = NULL;
	if (n < 3 || strlen(f[0]) != 1 || !valid_nonce(f[1]) || !parse_uint(f[2], 0xffffffffLL, &id)) return;
	switch (f[0][0]) {
	case 'P':
		if (n == 3) outq_printf("R %s %u\n", f[1], (uint32_t)id);
		break;
	case 'K':
		if (n == 3 && (c = find_cmd((uint32_t)id, f[1])) && !c->exited) kill(-c->pid, SIGKILL);
		break;
	case 'L':
		if (n == 4 && parse_uint(f[3], 0xffffffffLL, &from)) kmsg_send(f[1], (uint32_t)id, (unsigned long long)from);
		else send_failed(f[1], (uint32_t)id, "malformed kernel-log frame");
		break;
	case 'T': {
		long long rows, cols;
		if (n < 6 || !parse_uint(f[3], 0xffff, &rows) || !parse_uint(f[4], 0xffff, &cols)) {
			send_failed(f[1], (uint32_t)id, "malformed pty frame");
			break;
		}
		start_pty_cmd(f[1], (uint32_t)id, rows, cols, &f[5]);
		break;
	}
	case 'I':
		if (n == 4) pty_input(f[1], (uint32_t)id, f[3]);
		break;
	case 'W': {
		long long rows, cols;
		if (n == 5 && parse_uint(f[3], 0xffff, &rows) && parse_uint(f[4], 0xffff, &cols)) pty_resize(f[1], (uint32_t)id, rows, cols);
		break;
	}
	case 'X':
		if (n < 6 || !parse_uint(f[3], 0xffffffffLL, &timeout)) {
			send_failed(f[1], (uint32_t)id, "malformed command frame");
			break;
		}
		start_cmd(f[1], (uint32_t)id, timeout, f[4], &f[5]);
		break;
	default:
		break;
	}
}

static void read_tty(void)
{
	char buf[16384];
	ssize_t r = read(tty, buf, sizeof buf);
	ssize_t i, start = 0;
	if (r < 0) {
		if (errno != EINTR && errno != EAGAIN) usleep(10000); /* e.g. EIO: wait, never exit */
		return;
	}
	if (r == 0) {
		if (stdio_mode) { /* the host closed our stdin; finish what runs, then exit */
			input_closed = 1;
			return;
		}
		usleep(10000);               /* a hung-up tty: do not spin */
		return;
	}
	for (i = 0; i <= r; i++) {
		if (i < r && buf[i] != '\n') continue;
		size_t piece = (size_t)(i - start);
		if (!inl_skip && inl_len + piece >= AGENT_MAX_LINE) {
			inl_skip = 1;
			inl_len = 0;
		}
		if (!inl_skip) {
			memcpy(inl + inl_len, buf + start, piece);
			inl_len += piece;
		}
		if (i < r) {
			if (!inl_skip) {
				if (inl_len && inl[inl_len - 1] == '\r') inl_len--;
				inl[inl_len] = 0;
				handle_line(inl);
			}
			inl_len = 0;
			inl_skip = 0;
		}
		start = i + 1;
	}
}

/* ---- setup and main loop ---- */

/* The value of KEY (e.g. "ktest.port=") on the kernel command line into dst; 0 when absent. */
static int cmdline_param(const char *key, char *dst, size_t n)
{
	char buf[4096], *p;
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t r = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0) close(fd);
	if (r <= 0) return 0;
	buf[r] = 0;
	for (p = buf; (p = strstr(p, key)); p++) {
		if (p != buf && p[-1] != ' ') continue;
		p += strlen(key);
		snprintf(dst, n, "%.*s", (int)strcspn(p, " \n"), p);
		return 1;
	}
	return 0;
}

static void port_from_cmdline(char *dst, size_t n)
{
	if (!cmdline_param("ktest.port=", dst, n)) snprintf(dst, n, "ttyS1");
}


/* ktest.out=NAME: send every frame on that virtio port, held open from now on (waits up to 5 s for it
 * to appear: virtio ports come up asynchronously after their module). Without it, frames go to PORT. */
static void open_results_channel(void)
{
	char name[128], dev[300];
	int tries, fd;
	if (stdio_mode || !cmdline_param("ktest.out=", name, sizeof name)) return;
	for (tries = 0; find_virtio_port(name, dev, sizeof dev), !dev[0] && tries < 500; tries++) usleep(10000);
	fd = dev[0] ? open(dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) : -1;
	if (fd < 0) {
		/* the host listens only there: it will report that the agent never answered; say why on the console */
		fprintf(stderr, "ktest-agent: cannot open the results port %s (%s): %s\n", name, dev[0] ? dev : "not found",
			dev[0] ? strerror(errno) : "no such virtio port");
		return;
	}
	tty_out = fd; /* open_port's leading newline goes out here */
}

static void open_port(const char *arg)
{
	char name[256], path[300];
	struct termios tio;
	if (arg && !strcmp(arg, "-")) {
		stdio_mode = 1;
		tty = 0;
		tty_out = 1;
		set_nonblock(0);
		set_nonblock(1);
		fcntl(0, F_SETFD, FD_CLOEXEC);
		fcntl(1, F_SETFD, FD_CLOEXEC);
		return;
	}
	if (arg) snprintf(name, sizeof name, "%s", arg);
	else port_from_cmdline(name, sizeof name);
	snprintf(path, sizeof path, "%s%s", name[0] == '/' ? "" : "/dev/", name);
	tty = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (tty < 0) die(path);
	tty_out = tty;
	if (tcgetattr(tty, &tio) == 0) {
		cfmakeraw(&tio);
		tio.c_cflag |= CLOCAL | CREAD;
		tio.c_cflag &= ~(CRTSCTS | HUPCL);
		tio.c_iflag &= ~(IXON | IXOFF | IXANY);
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		cfsetispeed(&tio, B115200);
		cfsetospeed(&tio, B115200);
		if (tcsetattr(tty, TCSANOW, &tio) < 0) die("tcsetattr");
	}
	/* what arrived before the port was raw may have been echoed or mangled: drop it both ways, and
	 * start with a newline so the host's decoder discards any partial echo it already got */
	tcflush(tty, TCIOFLUSH);
	outq_printf("\n");
}

int main(int argc, char **argv)
{
	static struct pollfd pfd[4 + 3 * MAX_CMDS];
	static struct cmd *owner[4 + 3 * MAX_CMDS];
	static int stream_of[4 + 3 * MAX_CMDS];
	struct sigaction sa;
	int i;

	setenv("PATH", DEFAULT_PATH, 0);
	setenv("HOME", "/", 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) die("pipe");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	inl = xrealloc(NULL, AGENT_MAX_LINE + 1);
	/* nobody without CAP_SYS_PTRACE reads the nonce from /proc/1/mem or attaches; no core dumps */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	open_port(argc > 1 ? argv[1] : NULL);
	open_results_channel();
	if (!stdio_mode || getenv("KTEST_AGENT_KMSG")) kmsg_open(); /* stdio mode (host tests): only when asked */

	for (;;) {
		long long now = now_ms(), wait = -1;
		nfds_t n = 0;

		for (i = 0; i < MAX_CMDS; i++) {
			struct cmd *c = &cmds[i];
			if (!c->used) continue;
			if (c->deadline_ms && !c->exited) {
				if (now >= c->deadline_ms) {
					c->timedout = 1;
					c->deadline_ms = 0;
					kill(-c->pid, SIGKILL);
				} else if (wait < 0 || c->deadline_ms - now < wait) {
					wait = c->deadline_ms - now;
				}
			}
		}
		if (input_closed && outq_len == 0) {
			for (i = 0; i < MAX_CMDS && !cmds[i].used; i++) {}
			if (i == MAX_CMDS) exit(0);
		}
		pfd[n].fd = input_closed ? -1 : tty;
		pfd[n].events = POLLIN;
		owner[n++] = NULL;
		pfd[n].fd = tty_out;
		pfd[n].events = outq_len ? POLLOUT : 0;
		owner[n++] = NULL;
		pfd[n].fd = sigpipe_fds[0];
		pfd[n].events = POLLIN;
		owner[n++] = NULL;
		pfd[n].fd = kmsg_fd;
		pfd[n].events = POLLIN;
		owner[n++] = NULL;
		for (i = 0; i < MAX_CMDS; i++) {
			struct cmd *c = &cmds[i];
			int s;
			if (!c->used) continue;
			for (s = 1; s <= 2; s++) {
				if (c->out[s] < 0 || outq_len >= OUTQ_HIGH) continue;
				pfd[n].fd = c->out[s];
				pfd[n].events = POLLIN;
				stream_of[n] = s;
				owner[n++] = c;
			}
			if (c->in >= 0) {
				pfd[n].fd = c->in;
				pfd[n].events = POLLOUT;
				stream_of[n] = 0;
				owner[n++] = c;
			}
		}
		if (poll(pfd, n, (int)(wait > 0x7fffffff ? 0x7fffffff : wait)) < 0) {
			if (errno == EINTR) continue;
			die("poll");
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) read_tty();
		if (pfd[3].revents & (POLLIN | POLLERR)) kmsg_drain();
		for (i = 4; i < (int)n; i++) {
			struct cmd *c = owner[i];
			if (!pfd[i].revents || !c->used) continue;
			if (stream_of[i] == 0) {
				if (c->in == pfd[i].fd) write_child_stdin(c);
			} else if (c->out[stream_of[i]] == pfd[i].fd) {
				read_child(c, stream_of[i]);
				finish_if_done(c);
			}
		}
		if (pfd[2].revents & POLLIN) reap();
		if (outq_len) flush_tty();
	}
}
