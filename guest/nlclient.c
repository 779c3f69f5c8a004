/* nlclient.c - static netlink client for the guest: sends ktest messages, prints each reply as a JSON line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ktest_uapi.h"
#include "ktnl.h"

static const char usage_text[] =
	"usage: nlclient [--proto N] [--type N] [--flags N] [--seq N] [--pid N] [--len N]\n"
	"                [--hex HEX] [--count N] [--no-recv] [--timeout-ms N]\n"
	"                [--fail-nth N | --count-faults] [MESSAGE]\n"
	"Sends MESSAGE (or the bytes of --hex) to the kernel on netlink protocol N and prints one JSON\n"
	"line per message received: {\"seq\":1,\"type\":16,\"flags\":0,\"len\":31,\"pid\":0,\n"
	"\"payload\":\"hello users!!!\",\"hex\":\"...\"} (+ \"error\",\"errno\" for NLMSG_ERROR; 0 = ack).\n"
	"  --proto N       netlink protocol (default 30)\n"
	"  --type N        nlmsg_type (default 16 = HELLO; 17 ECHO, 18 SILENT)\n"
	"  --flags N       nlmsg_flags (default 1 = NLM_F_REQUEST; 5 = REQUEST|ACK)\n"
	"  --seq N         nlmsg_seq of the first message (default 1; +1 per message)\n"
	"  --pid N         nlmsg_pid (default 0)\n"
	"  --len N         nlmsg_len as given (default: the real length)\n"
	"  --hex HEX       payload bytes as hex instead of MESSAGE\n"
	"  --count N       send N messages one after the other, each waiting for its answer\n"
	"  --no-recv       send only\n"
	"  --timeout-ms N  how long to wait for each answer (default 2000)\n"
	"  --fail-nth N    fail the Nth fault point (allocation) the kernel meets while sending and\n"
	"                  receiving (fault-injection kernels: /proc/thread-self/fail-nth); says on\n"
	"                  stderr whether it was reached\n"
	"  --count-faults  say on stderr how many fault points sending and receiving met\n"
	"Numbers take 0x for hex. Exit: 0 ok, 2 usage, 3 socket error, 4 timeout, 5 kernel error.\n";

enum { OPT_PROTO = 256, OPT_TYPE, OPT_FLAGS, OPT_SEQ, OPT_PID, OPT_LEN, OPT_HEX, OPT_COUNT, OPT_NO_RECV, OPT_TIMEOUT, OPT_FAIL_NTH, OPT_COUNT_FAULTS };

/* --count-faults arms fail-nth this far away: never reached by one transaction. */
#define COUNT_FAULTS_ARM 1000000000U
#define FAIL_NTH_FILE "/proc/thread-self/fail-nth"

static const struct option options[] = {
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "flags", required_argument, NULL, OPT_FLAGS },
	{ "seq", required_argument, NULL, OPT_SEQ },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "len", required_argument, NULL, OPT_LEN },
	{ "hex", required_argument, NULL, OPT_HEX },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "no-recv", no_argument, NULL, OPT_NO_RECV },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "fail-nth", required_argument, NULL, OPT_FAIL_NTH },
	{ "count-faults", no_argument, NULL, OPT_COUNT_FAULTS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("nlclient: EINVAL: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see nlclient --help)\n", stderr);
	return KTNL_USAGE;
}

/* Parses an unsigned number (decimal or 0x hex) no larger than max. */
static int parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end || *out > max ? -1 : 0;
}

static int print_msg(void *ctx, const struct ktnl_msg *msg)
{
	size_t cap = ktnl_json_size(msg->payload_len);
	char *line = malloc(cap);

	(void)ctx;
	if (!line)
		return -1;
	ktnl_json(msg, line, cap);
	puts(line);
	fflush(stdout);
	free(line);
	return 0;
}

struct args {
	int proto;
	struct ktnl_call call;
	const char *hex;
	const char *message;
	/* fail-nth to arm before the transaction (0: none); count_faults arms COUNT_FAULTS_ARM. */
	unsigned fail_nth;
	int count_faults;
};

/* Fills args from argv; returns 0, or an exit status (usage error printed, or 0 via -1 for --help). */
static int parse_args(int argc, char **argv, struct args *a)
{
	int opt;

	memset(a, 0, sizeof(*a));
	opterr = 0; /* getopt's own messages would make a second stderr line */
	a->proto = KTEST_NETLINK_PROTO;
	a->call.msg.type = KTEST_MSG_HELLO;
	a->call.msg.flags = KTNL_DEFAULT_FLAGS;
	a->call.msg.seq = KTNL_DEFAULT_SEQ;
	a->call.count = 1;
	a->call.timeout_ms = KTNL_DEFAULT_TIMEOUT_MS;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		unsigned long long v = 0;

		if (opt == 'h') {
			fputs(usage_text, stdout);
			return -1;
		}
		if (opt == '?')
			return usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
		if (opt == OPT_NO_RECV) {
			a->call.no_recv = 1;
			continue;
		}
		if (opt == OPT_HEX) {
			a->hex = optarg;
			continue;
		}
		switch (opt) {
		case OPT_PROTO: if (parse_num(optarg, MAX_LINKS - 1, &v)) return usage_error("bad --proto '%s' (0..31)", optarg); a->proto = (int)v; break;
		case OPT_TYPE: if (parse_num(optarg, 0xffff, &v)) return usage_error("bad --type '%s'", optarg); a->call.msg.type = (uint16_t)v; break;
		case OPT_FLAGS: if (parse_num(optarg, 0xffff, &v)) return usage_error("bad --flags '%s'", optarg); a->call.msg.flags = (uint16_t)v; break;
		case OPT_SEQ: if (parse_num(optarg, 0xffffffffULL, &v)) return usage_error("bad --seq '%s'", optarg); a->call.msg.seq = (uint32_t)v; break;
		case OPT_PID: if (parse_num(optarg, 0xffffffffULL, &v)) return usage_error("bad --pid '%s'", optarg); a->call.msg.pid = (uint32_t)v; break;
		case OPT_LEN: if (parse_num(optarg, 0xffffffffULL, &v)) return usage_error("bad --len '%s'", optarg); a->call.msg.len = (uint32_t)v; a->call.msg.len_set = 1; break;
		case OPT_COUNT: if (parse_num(optarg, 1000000, &v) || v == 0) return usage_error("bad --count '%s' (1..1000000)", optarg); a->call.count = (unsigned)v; break;
		case OPT_TIMEOUT: if (parse_num(optarg, 86400000, &v)) return usage_error("bad --timeout-ms '%s'", optarg); a->call.timeout_ms = (int)v; break;
		case OPT_FAIL_NTH: if (parse_num(optarg, 1000000, &v) || v == 0) return usage_error("bad --fail-nth '%s' (1..1000000)", optarg); a->fail_nth = (unsigned)v; break;
		case OPT_COUNT_FAULTS: a->count_faults = 1; break;
		default: return usage_error("%s", "unknown option");
		}
	}
	if (optind < argc)
		a->message = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument '%s' (quote a MESSAGE with spaces)", argv[optind]);
	if (a->message && a->hex)
		return usage_error("%s", "give MESSAGE or --hex, not both");
	if (a->fail_nth && a->count_faults)
		return usage_error("%s", "give --fail-nth or --count-faults, not both");
	return 0;
}

/* fail-nth around each send: the open file, what is left to count down, and what happened. */
struct fail_nth_state {
	int fd;
	/* Fault points still to pass before the failure (0: none armed, or already injected). */
	unsigned remaining;
	int count_only;
	int injected;
	int error;
	unsigned long points;
};

/* Writes n to this thread's fail-nth (write(2) on an open fd: no allocation of our own in between). */
static int put_fail_nth(int fd, unsigned n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return write(fd, buf, (size_t)len) == len ? 0 : -errno;
}

/* This thread's fail-nth countdown (0 once the fault was injected), or -1. */
static long get_fail_nth(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * Armed right before each send and read right after: the kernel handles a netlink message to a
 * kernel socket in the sender's thread, during the send, so the fault points are exactly the
 * allocations of that handling (netlink's and the module's), none of this program's own.
 */
static void around_send(void *ctx, int after)
{
	struct fail_nth_state *st = ctx;
	unsigned armed = st->count_only ? COUNT_FAULTS_ARM : st->remaining;
	long left;

	if (st->error || (!st->count_only && st->remaining == 0))
		return;
	if (!after) {
		if (put_fail_nth(st->fd, armed))
			st->error = 1;
		return;
	}
	left = get_fail_nth(st->fd);
	put_fail_nth(st->fd, 0);
	if (left < 0) {
		st->error = 1;
		return;
	}
	st->points += (unsigned long)armed - (unsigned long)left;
	if (!st->count_only) {
		if (left == 0)
			st->injected = 1;
		st->remaining = (unsigned)left;
	}
}

/*
 * The transaction with fail-nth armed around each send, then one stderr line: "nlclient: fail-nth
 * N: injected", "nlclient: fail-nth N: not reached (K fault points)" or "nlclient: fault points: K".
 * The fault points are the slab allocations the kernel makes in this thread while handling the
 * sends: netlink's own and the module's (its input runs in the sender's thread).
 */
static int run_with_fail_nth(struct args *a, struct ktnl_outcome *out)
{
	struct fail_nth_state st = { .remaining = a->fail_nth, .count_only = a->count_faults };
	struct ktnl_sock s;
	int err, status = ktnl_open_for(&s, a->proto, 0, out);

	/* The socket's failure is told as without fail-nth (errno name first): scenarios read it. */
	if (status != KTNL_OK)
		return status;
	st.fd = open(FAIL_NTH_FILE, O_RDWR | O_CLOEXEC);
	if (st.fd < 0 || put_fail_nth(st.fd, 0)) {
		err = errno;
		ktnl_close(&s);
		fprintf(stderr, "nlclient: cannot arm %s: %s (the kernel needs CONFIG_FAULT_INJECTION: --kernel bookworm-6.1-debug)\n",
			FAIL_NTH_FILE, strerror(err));
		return KTNL_USAGE;
	}
	a->call.around_send = around_send;
	a->call.hook_ctx = &st;
	status = ktnl_transact(&s, &a->call, print_msg, NULL, out);
	close(st.fd);
	ktnl_close(&s);
	if (st.error)
		fprintf(stderr, "nlclient: cannot read or write %s\n", FAIL_NTH_FILE);
	else if (a->count_faults)
		fprintf(stderr, "nlclient: fault points: %lu\n", st.points);
	else if (st.injected)
		fprintf(stderr, "nlclient: fail-nth %u: injected\n", a->fail_nth);
	else
		fprintf(stderr, "nlclient: fail-nth %u: not reached (%lu fault points)\n", a->fail_nth, st.points);
	return status;
}

int main(int argc, char **argv)
{
	struct ktnl_outcome out;
	struct args a;
	void *bytes = NULL;
	int status = parse_args(argc, argv, &a);

	if (status)
		return status < 0 ? 0 : status;
	if (a.hex) {
		size_t hexlen = strlen(a.hex);
		long n;

		bytes = malloc(hexlen / 2 + 1);
		if (!bytes)
			return usage_error("%s", "out of memory");
		n = ktnl_hex_decode(a.hex, hexlen, bytes, hexlen / 2 + 1);
		if (n < 0) {
			free(bytes);
			return usage_error("bad --hex '%.40s' (an even number of hex digits)", a.hex);
		}
		a.call.msg.payload = bytes;
		a.call.msg.payload_len = (size_t)n;
	} else if (a.message) {
		a.call.msg.payload = a.message;
		a.call.msg.payload_len = strlen(a.message);
	}
	if (a.fail_nth || a.count_faults)
		status = run_with_fail_nth(&a, &out);
	else
		status = ktnl_run(a.proto, 0, &a.call, print_msg, NULL, &out);
	if (status != KTNL_OK)
		fprintf(stderr, "nlclient: %s\n", out.message);
	free(bytes);
	return status;
}
