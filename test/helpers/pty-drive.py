#!/usr/bin/env python3
# Drives a command on a real pseudo-terminal for tests: a JSON script of steps on stdin, a JSON result per step on stdout.
# Steps: {"expect": REGEX, "timeout": S} waits for output matching REGEX (since the last match);
#        {"send": TEXT} types TEXT (escapes like \u0003 for Ctrl-C); {"resize": [ROWS, COLS]} resizes the terminal
#        (TIOCSWINSZ on the master, which signals SIGWINCH to the foreground job); {"sleep": S}.
# At the end it waits for the command to exit and reports its exit status; the whole screen text goes to stderr.
import fcntl, json, os, pty, re, select, signal, struct, sys, termios, time

def main():
    spec = json.load(sys.stdin)
    rows, cols = spec.get("size", [24, 80])
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(spec["argv"][0], spec["argv"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    buf = b""
    seen = 0
    status = None
    results = []

    def pump(timeout):
        nonlocal buf
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        buf += data
        return True

    for step in spec["steps"]:
        if "send" in step:
            os.write(fd, step["send"].encode())
            results.append({"ok": True})
        elif "resize" in step:
            r, c = step["resize"]
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
            results.append({"ok": True})
        elif "sleep" in step:
            end = time.time() + step["sleep"]
            while time.time() < end:
                pump(max(0.0, end - time.time()))
            results.append({"ok": True})
        elif "expect" in step:
            rx = re.compile(step["expect"].encode())
            end = time.time() + step.get("timeout", 30)
            m = None
            alive = True
            while True:
                m = rx.search(buf, seen)
                if m or time.time() >= end or not alive:
                    break
                alive = pump(min(0.2, max(0.0, end - time.time())))
            if m:
                seen = m.end()
                results.append({"ok": True, "match": m.group(0).decode(errors="replace"), "at": time.time()})
            else:
                results.append({"ok": False, "tail": buf[seen:][-600:].decode(errors="replace")})
                break
    deadline = time.time() + spec.get("exitTimeout", 60)
    while time.time() < deadline:
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            status = os.waitstatus_to_exitcode(st)
            break
        if not pump(0.2):
            time.sleep(0.05)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    while pump(0.1):
        pass
    sys.stderr.write(buf.decode(errors="replace"))
    json.dump({"steps": results, "exitCode": status}, sys.stdout)

main()
