#!/usr/bin/python3
"""Run one hostile program in the sandbox and assert how it ends.

    run_hostile.py NAME            one program (see PROGRAMS)
    run_hostile.py syscalls A-B    the syscall sweep, numbers A..B
    run_hostile.py --host-check    after the suite: nothing left behind

Environment (set by meson): ZVSH and ZEROVM = the CLIs, HOSTILE_DIR =
where the hostile-NAME programs are built.

Each run goes through a real CLI: `zvsh` (stdio passed through, extra
channels as @NAME=FILE), or `zerovm` with a manifest where a program needs
channel limits. Channels are files in a fresh temp dir. The program gets a canary
directory (with a `secret`) and must end exactly as PROGRAMS says. After
the run the host must be unchanged: canary listing and contents, no
/tmp/zvm-hostile-pwned-* file, no process of the program left, the secret
never printed. Exit status 0 = pass, 1 = fail (the reasons are printed).
"""
import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ZEROVM = os.path.abspath(os.environ.get("ZEROVM", "zerovm"))
ZVSH = os.path.abspath(os.environ.get("ZVSH", "zvsh"))
HOSTILE_DIR = os.path.abspath(os.environ.get("HOSTILE_DIR", "."))
# The CLIs run programs deterministically by default; zvmd does not. With
# HOSTILE_NONDETERMINISTIC=1 every run passes -N, so the attacks also face
# the filter the daemon uses.
MODE = ["-N"] if os.environ.get("HOSTILE_NONDETERMINISTIC") else []
# With HOSTILE_IMAGE=1 every program runs from an image (a directory with
# the program hard-linked as /prog/hostile-NAME, plus the /dev and /tmp mount
# points): the attacks then face the wider "posix" policy of image runs.
IMAGE = bool(os.environ.get("HOSTILE_IMAGE"))
UNBOUNDED = 4294967296
MIB = 1 << 20
MEMORY = 64 * MIB
# Tokens name this build, so that suites run from other build dirs on the
# same machine at the same time are not mistaken for leftovers.
TOKEN_PREFIX = ("zvm-hostile-token-" +
                hashlib.sha256(HOSTILE_DIR.encode()).hexdigest()[:8] + "-")
PWNED_PREFIX = "zvm-hostile-pwned-"

# What each program must end with:
#   "exit 0"        exited 0 and printed "RESULT: contained"
#   "signal SIGSYS" killed by that signal
#   "timeout"       ended by the sandbox with "session timeout"
#   "refused"       zvsh would not start it (exit 125, no report)
#   "supervisor killed"  the runner SIGKILLed zvsh while the program ran
# Options: channels (extra, after stdin/stdout/stderr: fds 3, 4),
# memory, timeout, args (program-specific, after CANARY SELF TOKEN),
# cli ("zerovm" where channel limits are needed, else zvsh), stdin ("pty":
# a terminal), listen (servers the program tries to reach), max_output
# (bytes /dev/output may hold), never_printed (bytes that must not leak),
# stdin_content (zerovm: what the stdin channel file holds); a channel
# with fifo=True is a FIFO whose ends the runner holds and never uses;
# stdio_rdwr (zvsh: stdin and stdout are O_RDWR files holding these bytes);
# stdin "pipe" (a pipe whose flags the runner checks); payload (an
# executable channel /dev/payload, a tiny ELF exiting 99); dir_channel (zvsh:
# the canary directory itself as channel /dev/dir); victim (a second
# sandbox runs alongside; its pid is the last argument).
LIMIT = 1000
GET_LIMIT = 100


def out_channel(puts=UNBOUNDED, put_size=UNBOUNDED, access=0):
    return {"alias": "/dev/output", "access": access, "gets": 0,
            "get_size": 0, "puts": puts, "put_size": put_size,
            "content": None}


def in_channel(content, get_size=UNBOUNDED, access=1):
    return {"alias": "/dev/input", "access": access, "gets": UNBOUNDED,
            "get_size": get_size, "puts": 0, "put_size": 0,
            "content": content}


INPUT_TEXT = b"input channel content: must stay unchanged\n"
GET_TEXT = b"a" * GET_LIMIT + b"BEYOND-LIMIT\n" * 300

PROGRAMS = {
    "open_host": {"expect": "exit 0"},
    "openat_host": {"expect": "exit 0"},
    "openat2_host": {"expect": "exit 0"},
    "creat_host": {"expect": "exit 0"},
    "stat_host": {"expect": "exit 0"},
    "newfstatat_host": {"expect": "exit 0"},
    "statx_host": {"expect": "exit 0"},
    "access_host": {"expect": "exit 0"},
    "readlink_host": {"expect": "exit 0"},
    "execve_path": {"expect": "exit 0"},
    "chdir_getdents": {"expect": "exit 0"},
    "handle_at": {"expect": "exit 0"},
    "execve_sh": {"expect": "exit 0"},
    "execveat_sh": {"expect": "exit 0"},
    "memfd_exec": {"expect": "exit 0", "channels": [out_channel()]},
    "socket_inet": {"expect": "exit 0", "listen": "inet"},
    "socket_unix": {"expect": "exit 0", "listen": "unix"},
    "socket_raw": {"expect": "exit 0"},
    "fork": {"expect": "exit 0"},
    "clone3": {"expect": "exit 0"},
    "thread": {"expect": "exit 0"},
    "ptrace": {"expect": "exit 0"},
    "kill_any": {"expect": "exit 0", "timeout": 40},  # 32k notifications
    "signal_parent": {"expect": "exit 0"},
    "mount": {"expect": "exit 0"},
    "unshare": {"expect": "exit 0"},
    "setns": {"expect": "exit 0"},
    "chroot": {"expect": "exit 0"},
    "pivot_root": {"expect": "exit 0"},
    "io_uring": {"expect": "exit 0"},
    "bpf": {"expect": "exit 0"},
    "userfaultfd": {"expect": "exit 0"},
    "perf_event": {"expect": "exit 0"},
    "keyctl": {"expect": "exit 0"},
    "personality": {"expect": "exit 0"},
    "prctl_nnp": {"expect": "exit 0"},
    "prctl_seccomp": {"expect": "exit 0"},
    "prctl_dumpable": {"expect": "exit 0"},
    "prctl_caps": {"expect": "exit 0"},
    "x32": {"expect": "signal SIGSYS"},
    "int80": {"expect": "signal SIGSYS"},
    "compat32": {"expect": "signal SIGSYS"},
    "fd_scan": {"expect": "exit 0", "channels": [in_channel(INPUT_TEXT)],
                "args": ["4"]},
    "supervisor_mem": {"expect": "exit 0"},
    "put_limit": {"expect": "exit 0", "cli": "zerovm",
                  "channels": [out_channel(put_size=LIMIT)],
                  "args": [str(LIMIT)], "max_output": LIMIT},
    "put_count": {"expect": "exit 0", "cli": "zerovm", "channels": [out_channel(puts=5)],
                  "args": ["5"], "max_output": 5},
    "put_pwrite": {"expect": "exit 0", "cli": "zerovm",
                   "channels": [out_channel(put_size=LIMIT, access=3)],
                   "args": [str(LIMIT)], "max_output": LIMIT},
    "get_limit": {"expect": "exit 0", "cli": "zerovm",
                  "channels": [in_channel(GET_TEXT, get_size=GET_LIMIT)],
                  "args": [str(GET_LIMIT)], "never_printed": b"BEYOND"},
    "fd_juggle": {"expect": "exit 0", "cli": "zerovm",
                  "channels": [out_channel(put_size=LIMIT)],
                  "args": [str(LIMIT)], "max_output": LIMIT},
    "put_vectored": {"expect": "exit 0", "cli": "zerovm",
                     "stdin_content": b"s" * 65536,
                     "channels": [out_channel(put_size=LIMIT)],
                     "args": [str(LIMIT)], "max_output": LIMIT},
    "get_vectored": {"expect": "exit 0", "cli": "zerovm",
                     "channels": [in_channel(GET_TEXT, get_size=GET_LIMIT)],
                     "args": [str(GET_LIMIT)], "never_printed": b"BEYOND"},
    "notify_abuse": {"expect": "exit 0", "cli": "zerovm",
                     "channels": [out_channel(put_size=100 * LIMIT),
                                  in_channel(GET_TEXT, get_size=GET_LIMIT)],
                     "max_output": 100 * LIMIT, "never_printed": b"BEYOND"},
    "seq_channel": {"expect": "exit 0", "cli": "zerovm",
                    "stdin_content": b"0123456789" * 10},
    "channel_fcntl": {"expect": "exit 0",
                      "channels": [in_channel(INPUT_TEXT)]},
    "crash": {"expect": "signal SIGSEGV"},
    "loop_masked": {"expect": "timeout", "timeout": 1},
    "blocked_read": {"expect": "timeout", "timeout": 1, "cli": "zerovm",
                     "channels": [dict(in_channel(None, get_size=LIMIT),
                                       fifo=True)]},
    "blocked_write": {"expect": "timeout", "timeout": 1, "cli": "zerovm",
                      "channels": [dict(out_channel(put_size=100 * MIB),
                                        fifo=True)]},
    "env_leak": {"expect": "exit 0"},
    "sibling": {"expect": "exit 0", "victim": True},
    "orphan": {"expect": "supervisor killed", "kill_supervisor": True,
               "timeout": 60},
    "host_info": {"expect": "exit 0"},
    "dir_channel": {"expect": "refused", "dir_channel": True},
    "dynamic": {"expect": "refused"},
    "pid_probe": {"expect": "exit 0"},
    "exec_channel": {"expect": "exit 0", "payload": True},
    "channel_flags": {"expect": "exit 0", "stdin": "pipe"},
    "channel_direction": {"expect": "exit 0", "stdio_rdwr": b"H" * 512},
    "memory_mmap": {"expect": "exit 0", "args": [str(MEMORY)]},
    "memory_brk": {"expect": "exit 0", "args": [str(MEMORY)]},
    "infinite_loop": {"expect": "timeout", "timeout": 1},
    "fork_bomb": {"expect": "exit 0"},
    "tiocsti": {"expect": "exit 0", "stdin": "pty"},
    "alias_traversal": {"expect": "exit 0",
                        "channels": [in_channel(INPUT_TEXT)]},
    "alias_mode": {"expect": "exit 0",
                   "channels": [in_channel(INPUT_TEXT, access=0),
                                out_channel()]},
    "channel_meta": {"expect": "exit 0",
                     "channels": [in_channel(INPUT_TEXT)]},
    "mknod": {"expect": "exit 0"},
    "symlink": {"expect": "exit 0", "channels": [in_channel(INPUT_TEXT)]},
}


class Failure(Exception):
    pass


# ------------------------------------------------------------ host state

def tree_state(path):
    """Every entry under path with its kind, size, mode, owner, times and,
    for files, a digest: any change by the program shows up here."""
    state = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            digest = None
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            xattrs = sorted(os.listxattr(p, follow_symlinks=False))
            state[os.path.relpath(p, path)] = (
                st.st_mode, st.st_uid, st.st_gid, st.st_size,
                st.st_mtime_ns, digest, tuple(xattrs))
    return state


def pwned_in_tmp():
    return sorted(n for n in os.listdir("/tmp") if n.startswith(PWNED_PREFIX))


def processes_matching(token=None, exe_ids=()):
    """Pids whose command line carries token or whose executable is one of
    exe_ids ((dev, ino) pairs)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            st = os.stat(f"/proc/{pid}/exe")
            exe = (st.st_dev, st.st_ino)
        except OSError:
            continue
        if (token and token.encode() in cmdline) or exe in exe_ids:
            found.append(int(pid))
    return found


def describe_process(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(l.split(":", 1) for l in f if ":" in l)
        return (f"{pid} ({fields['Name'].strip()}, uid "
                f"{fields['Uid'].split()[0]}, parent {fields['PPid'].strip()})")
    except OSError:
        return f"{pid} (gone)"


def lingering(token, exe_ids, grace=5.0):
    """Processes of the run still alive after `grace` seconds. Exits are
    asynchronous (e.g. the sandbox's namespace holder ends when the CLI's
    pipe closes), so only what outlives the grace period counts."""
    deadline = time.monotonic() + grace
    while True:
        pids = processes_matching(token, exe_ids)
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def kill_leftovers(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------- running

def manifest_text(prog, argv, channels, memory, timeout, image=None):
    lines = ["Version = 20130611", f"Program = {prog}",
             f"Timeout = {timeout}", f"Memory = {memory}, 0"]
    if image:
        lines.append(f"Image = {image}")
    for c in channels:
        lines.append("Channel = {uri}, {alias}, {access}, 0, {gets}, "
                     "{get_size}, {puts}, {put_size}".format(**c))
    lines.append("CommandLine = " + " ".join(argv))
    return "\n".join(lines) + "\n"


class Run:
    """One program run in the sandbox, with its files and outcome."""

    def __init__(self, name, spec, extra_args=()):
        self.name = name
        self.spec = spec
        self.prog = os.path.join(HOSTILE_DIR, "hostile-" + name)
        self.token = TOKEN_PREFIX + secrets.token_hex(8)
        # Image runs hard-link the program into the image: same file
        # system as the build directory, and the same inode, which is how
        # leftover processes are recognised.
        self.dir = tempfile.mkdtemp(prefix="zvm-hostile-run-",
                                    dir=HOSTILE_DIR if IMAGE else None)
        self.image = self._image() if IMAGE else None
        self.canary = os.path.join(self.dir, "canary")
        os.mkdir(self.canary)
        self.secret = secrets.token_hex(16).encode()
        with open(os.path.join(self.canary, "secret"), "wb") as f:
            f.write(b"canary secret " + self.secret + b"\n")
        self.args = [self.canary, self.prog, self.token,
                     *spec.get("args", []), *extra_args]
        self.channels = self._channels()
        self.listeners = []
        self.problems = []

    def _image(self):
        image = os.path.join(self.dir, "image")
        for d in ("prog", "dev", "tmp"):
            os.makedirs(os.path.join(image, d))
        os.link(self.prog, os.path.join(image, "prog", "hostile-" + self.name))
        return image

    def _prog_args(self):
        """How the CLI names the program: its host path, or its path in
        the image (after --image DIR for zvsh)."""
        if not self.image:
            return [self.prog]
        return ["--image", self.image, "/prog/hostile-" + self.name]

    def _channels(self):
        def path(n):
            return os.path.join(self.dir, n)
        with open(path("stdin"), "wb") as f:
            f.write(self.spec.get("stdin_content", b""))
        chans = [
            {"uri": path("stdin"), "alias": "/dev/stdin", "access": 0,
             "gets": UNBOUNDED, "get_size": UNBOUNDED, "puts": 0,
             "put_size": 0},
            {"uri": path("stdout"), "alias": "/dev/stdout", "access": 0,
             "gets": 0, "get_size": 0, "puts": UNBOUNDED,
             "put_size": UNBOUNDED},
            {"uri": path("stderr"), "alias": "/dev/stderr", "access": 0,
             "gets": 0, "get_size": 0, "puts": UNBOUNDED,
             "put_size": UNBOUNDED},
        ]
        self.fifo_ends = []
        extra = list(self.spec.get("channels", []))
        if self.spec.get("payload"):
            extra.append(in_channel(tiny_elf(99)) | {"alias": "/dev/payload",
                                                     "mode": 0o755})
        for c in extra:
            c = dict(c, uri=path(os.path.basename(c["alias"])))
            if c.get("fifo"):
                # Both ends held open here and never used: the program's
                # reads find no data, its writes fill the pipe.
                os.mkfifo(c["uri"])
                self.fifo_ends.append(os.open(c["uri"], os.O_RDWR))
            elif c["content"] is not None:
                with open(c["uri"], "wb") as f:
                    f.write(c["content"])
                os.chmod(c["uri"], c.get("mode", 0o644))
            chans.append(c)
        return chans

    def listen(self):
        """Servers the socket programs try to reach; check_listeners()
        asserts nothing arrived."""
        kind = self.spec.get("listen")
        if kind == "inet":
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.bind(("127.0.0.1", 0))
            tcp.listen(8)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            self.listeners += [tcp, udp]
            port = tcp.getsockname()[1]
            try:
                tcp6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                tcp6.bind(("::1", port))
                tcp6.listen(8)
                self.listeners.append(tcp6)
            except OSError as e:
                print(f"note: no ::1 listener ({e})")
            self.args += [str(port), str(udp.getsockname()[1])]
        elif kind == "unix":
            path = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            path.bind(os.path.join(self.canary, "sock"))
            path.listen(8)
            abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            abstract.bind("\0zvm-hostile-" + self.token)
            abstract.listen(8)
            self.listeners += [path, abstract]

    def check_listeners(self):
        for s in self.listeners:
            s.setblocking(False)
            try:
                if s.type == socket.SOCK_DGRAM:
                    data, peer = s.recvfrom(4096)
                    self.problems.append(f"datagram arrived from {peer}: {data!r}")
                else:
                    conn, peer = s.accept()
                    conn.close()
                    self.problems.append(f"connection arrived from {peer!r}")
            except (BlockingIOError, InterruptedError):
                pass
            s.close()

    def run(self):
        """Run in the sandbox; returns (kind, value) with kind 'exit'
        (value = code), 'signal' (value = number) or 'timeout'."""
        self.listen()
        before_canary = tree_state(self.canary)
        before_inputs = {c["uri"]: tree_state_file(c["uri"])
                         for c in self.channels if c.get("content")}
        before_pwned = pwned_in_tmp()
        before_host = socket.gethostname()
        victim = Victim(self.dir) if self.spec.get("victim") else None
        if victim:
            self.args.append(str(victim.pid))
        if self.spec.get("kill_supervisor"):
            outcome = self._run_zvsh_killed()
        elif self.spec.get("cli") == "zerovm":
            outcome = self._run_zerovm()
        else:
            outcome = self._run_zvsh()
        self.output = self._read("stdout") + self.stderr
        if victim:
            self.problems += victim.check_and_end()

        leftovers = lingering(self.token, {file_id(self.prog)})
        if leftovers:
            self.problems.append("processes left running: " + ", ".join(
                describe_process(p) for p in leftovers))
            kill_leftovers(leftovers)
        self.check_listeners()
        self.check_pty()
        if tree_state(self.canary) != before_canary:
            self.problems.append("the canary directory changed: "
                                 f"{sorted(os.listdir(self.canary))}")
        for uri, state in before_inputs.items():
            if tree_state_file(uri) != state:
                self.problems.append(f"input channel file {uri} changed")
        new_pwned = [n for n in pwned_in_tmp() if n not in before_pwned]
        if new_pwned:
            self.problems.append(f"files appeared in /tmp: {new_pwned}")
        if socket.gethostname() != before_host:
            self.problems.append("the host name changed")
        if self.secret in self.output:
            self.problems.append("the canary secret was printed")
        never = self.spec.get("never_printed")
        if never and never in self.output:
            self.problems.append(f"{never!r} was printed")
        for c in self.channels:
            cap = self.spec.get("max_output")
            if c["alias"] == "/dev/output" and cap is not None:
                size = os.path.getsize(c["uri"])
                if size > cap:
                    self.problems.append(f"/dev/output holds {size} bytes, "
                                         f"limit {cap}")
        return outcome

    def _timeout(self):
        return self.spec.get("timeout", 10)

    def _run_zerovm(self):
        """The manifest runner: every channel a file, with its limits."""
        manifest = os.path.join(self.dir, "manifest")
        with open(manifest, "w") as f:
            f.write(manifest_text(
                "/prog/hostile-" + self.name if self.image else self.prog,
                ["hostile-" + self.name] + self.args, self.channels,
                self.spec.get("memory", MEMORY), self._timeout(),
                self.image))
        proc = self._spawn([ZEROVM, *MODE, manifest], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE)
        self.stderr = self._read("stderr")
        self.sandbox_said = proc.stdout.decode(errors="replace") + \
            proc.stderr.decode(errors="replace")
        kind, value = parse_report(proc.stdout.decode(errors="replace"))
        want = {"exit": 0 if value == 0 else 1, "signal": 2,
                "timeout": 3}[kind]
        if proc.returncode != want:
            raise Failure(f"zerovm exited {proc.returncode} for {kind} "
                          f"{value}; expected {want}")
        return kind, value

    def _run_zvsh(self):
        """The developer shell: stdio passed through (stdin may be a
        terminal), extra channels as @NAME=FILE after the arguments."""
        cmd = [ZVSH, *MODE, "-v", "-t", str(self._timeout()),
               "-m", str(self.spec.get("memory", MEMORY)), *self._prog_args(),
               *self.args]
        for c in self.channels[3:]:
            cmd.append(f"@{os.path.basename(c['alias'])}={c['uri']}")
        if self.spec.get("dir_channel"):
            cmd.append(f"@dir={self.canary}")
        stdin = subprocess.DEVNULL
        if self.spec.get("stdin") == "pty":
            self.pty_master, stdin = os.openpty()
        if self.spec.get("stdin") == "pipe":
            stdin, self.pipe_w = os.pipe()
            self.flags_before = {fd: fcntl.fcntl(fd, fcntl.F_GETFL)
                                 for fd in (stdin, self.pipe_w)}
            self.pipe_r = stdin
        rdwr = self.spec.get("stdio_rdwr")
        if rdwr:
            stdin = self._rdwr_file("stdin", rdwr)
        if rdwr:
            out = self._rdwr_file("stdout", rdwr)
        else:
            out = os.open(os.path.join(self.dir, "stdout"),
                          os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            proc = self._spawn(cmd, stdin=stdin, stdout=out)
        finally:
            os.close(out)
        if self.spec.get("stdin") == "pty":
            self.pty_slave = stdin
        if self.spec.get("stdin") == "pipe":
            self._check_flags()
        if rdwr:
            os.close(stdin)
            self._check_rdwr(rdwr)
        err = proc.stderr.decode(errors="replace")
        self.sandbox_said = "".join(l + "\n" for l in err.splitlines()
                                    if l.startswith("zvsh: "))
        self.stderr = b"".join(line + b"\n" for line in
                               proc.stderr.splitlines()
                               if not line.startswith(b"zvsh: "))
        return parse_zvsh(err, proc.returncode)

    def _env(self):
        """The CLI's environment carries the secret too: a program that
        sees its supervisor's environment prints it."""
        return dict(os.environ,
                    ZVM_HOSTILE_ENV_SECRET=self.secret.decode())

    def _run_zvsh_killed(self):
        """zvsh runs the program until it prints "spinning", then zvsh
        (the supervisor) is SIGKILLed; run() then looks for leftovers."""
        cmd = [ZVSH, *MODE, "-t", str(self._timeout()), *self._prog_args(),
               *self.args]
        # Files, not pipes: a surviving program would hold a pipe open.
        with open(os.path.join(self.dir, "stdout"), "wb") as out, \
             open(os.path.join(self.dir, "stderr"), "wb") as err:
            proc = subprocess.Popen(cmd, cwd=self.canary,
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, env=self._env())
        deadline = time.monotonic() + 10
        while b"spinning" not in self._read("stdout"):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise Failure("the program never started spinning")
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        self.stderr = self._read("stderr")
        self.sandbox_said = "zvsh killed with SIGKILL\n"
        return "supervisor killed", None

    def _spawn(self, cmd, stdin, stdout):
        limit = self._timeout() + 30
        try:
            return subprocess.run(cmd, cwd=self.canary, stdin=stdin,
                                  stdout=stdout, stderr=subprocess.PIPE,
                                  timeout=limit, env=self._env())
        except subprocess.TimeoutExpired:
            raise Failure(f"{cmd[0]} did not return within {limit} s")
        except OSError as e:
            raise Failure(f"cannot run {cmd[0]}: {e}")

    def _rdwr_file(self, name, content):
        fd = os.open(os.path.join(self.dir, name),
                     os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, content)
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    def _check_rdwr(self, content):
        """stdin keeps its bytes; stdout was only written over, never
        read (the program's reads are judged by the program)."""
        if self._read("stdin") != content:
            self.problems.append("the read-only stdin file was written")

    def _check_flags(self):
        """The runner's ends of the stdin pipe keep their file status
        flags: the program shares the open file description."""
        for fd, before in self.flags_before.items():
            after = fcntl.fcntl(fd, fcntl.F_GETFL)
            if after != before:
                self.problems.append(f"host fd flags changed: {before:#o} "
                                     f"-> {after:#o}")
            os.close(fd)

    def check_pty(self):
        """Bytes waiting on the terminal's input were injected (TIOCSTI)."""
        slave = getattr(self, "pty_slave", None)
        if slave is None:
            return
        os.set_blocking(slave, False)
        try:
            data = os.read(slave, 4096)
            self.problems.append(f"bytes injected into the terminal: {data!r}")
        except BlockingIOError:
            pass
        os.close(slave)
        os.close(self.pty_master)

    def _read(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return f.read()

    def cleanup(self):
        for fd in self.fifo_ends:
            os.close(fd)
        shutil.rmtree(self.dir, ignore_errors=True)


def tiny_elf(code):
    """A static x86-64 ELF of 132 bytes that exits with `code`."""
    base = 0x400000
    text = bytes([0xbf, code, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05])
    size = 64 + 56 + len(text)
    ehdr = (b"\x7fELF\x02\x01\x01" + bytes(9) +
            struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, base + 120, 64, 0, 0,
                        64, 56, 1, 0, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return ehdr + phdr + text


class Victim:
    """A second sandbox (hostile-infinite_loop under zvsh) for a program
    to attack; its pid is the host pid of the sandboxed program."""

    def __init__(self, workdir):
        self.prog = os.path.join(HOSTILE_DIR, "hostile-infinite_loop")
        token = TOKEN_PREFIX + secrets.token_hex(8)
        self.log = open(os.path.join(workdir, "victim.log"), "wb")
        self.zvsh = subprocess.Popen(
            [ZVSH, *MODE, "-t", "60", self.prog, workdir, self.prog, token],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=self.log)
        deadline = time.monotonic() + 10
        while True:
            # Started = running the program and no longer traced: in
            # deterministic mode the spawner holds the exec stop briefly.
            pids = [p for p in processes_matching(token, ())
                    if p != self.zvsh.pid and self._exe_is_prog(p) and
                    self._untraced(p)]
            if pids:
                self.pid = pids[0]
                break
            if time.monotonic() > deadline:
                self.zvsh.kill()
                self.zvsh.wait()
                raise Failure("the victim sandbox did not start")
            time.sleep(0.02)
        self.before = self._state()

    @staticmethod
    def _untraced(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                return "TracerPid:\t0\n" in f.read()
        except OSError:
            return False

    def _exe_is_prog(self, pid):
        try:
            st = os.stat(f"/proc/{pid}/exe")
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == file_id(self.prog)

    def _state(self):
        """Nice value, scheduling policy, limits and tracer of the victim."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{self.pid}/limits") as f:
            limits = f.read()
        with open(f"/proc/{self.pid}/status") as f:
            tracer = [l for l in f if l.startswith("TracerPid")]
        return fields[16], fields[38], limits, tracer

    def check_and_end(self):
        problems = []
        if self.zvsh.poll() is not None:
            problems.append("the victim sandbox ended during the attack")
        else:
            if self._state() != self.before:
                problems.append("the victim's nice, policy, limits or "
                                "tracer changed")
            kill_leftovers([self.pid])
            self.zvsh.wait()
        self.log.close()
        return problems


def file_id(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def tree_state_file(path):
    st = os.lstat(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, digest,
            tuple(sorted(os.listxattr(path))))


def outcome(status, retcode):
    """A report status ("ok", "Signal 31 (...)", "session timeout") as
    (kind, value)."""
    if status == "session timeout":
        return ("timeout", None)
    if status.startswith("Signal "):
        return ("signal", int(status.split()[1]))
    if status == "ok":
        return ("exit", retcode)
    raise Failure(f"the sandbox failed: {status!r}")


def parse_report(text):
    """zerovm's six report lines: validation, daemon, retcode, etag,
    accounting, status."""
    lines = text.splitlines()
    if len(lines) < 6:
        raise Failure(f"zerovm printed no report:\n{text}")
    return outcome(lines[5].strip(), int(lines[2]))


def parse_zvsh(err, returncode):
    """zvsh -v ends with "zvsh: STATUS; exit N; ..."; its exit code must
    agree: N, 128 + signal, or 124 on timeout. 125 without that line: zvsh
    refused to start the program."""
    lines = [l for l in err.splitlines()
             if l.startswith("zvsh: ") and "; exit " in l]
    if not lines and returncode == 125:
        return "refused", None
    if not lines:
        raise Failure(f"zvsh printed no report (exit {returncode}):\n{err}")
    status, code = lines[-1][6:].split("; exit ")
    kind, value = outcome(status, int(code.split(";")[0]))
    want = {"exit": value, "timeout": 124}.get(kind)
    if kind == "signal":
        want = 128 + value
    if returncode != want:
        raise Failure(f"zvsh exited {returncode} for {status!r}; "
                      f"expected {want}")
    return kind, value


def describe(kind, value):
    if kind == "supervisor killed":
        return kind
    if kind == "signal":
        return f"signal {signal.Signals(value).name}"
    if kind == "exit":
        return f"exit {value}"
    return kind


# ------------------------------------------------------------------ modes

def show(run):
    print(f"--- {run.name} output ---")
    sys.stdout.write(run.output.decode(errors="replace"))
    print(f"--- sandbox report ---\n{run.sandbox_said}")


def run_program(name):
    spec = PROGRAMS[name]
    run = Run(name, spec)
    try:
        kind, value = run.run()
        show(run)
        got = describe(kind, value)
        problems = list(run.problems)
        if got != spec["expect"]:
            problems.append(f"ended with {got}, expected {spec['expect']}")
        if spec["expect"] == "exit 0" and b"RESULT: contained" not in run.output:
            problems.append("no 'RESULT: contained' line")
        if b"ESCAPED" in run.output:
            problems.append("the program reports an ESCAPE")
    finally:
        run.cleanup()
    return report_problems(name, got, problems)


def run_syscalls(first, last):
    """One sandbox per syscall number: each must end contained."""
    problems = []
    ends = {}
    for nr in range(first, last + 1):
        run = Run("syscalls", {"timeout": 2}, [str(nr)])
        try:
            kind, value = run.run()
            got = describe(kind, value)
            ends.setdefault(got, []).append(nr)
            bad = list(run.problems)
            if b"ESCAPED" in run.output or (kind == "exit" and value == 99):
                bad.append("the program reports an ESCAPE")
            if bad:
                show(run)
                problems += [f"syscall {nr}: {p}" for p in bad]
        except Failure as e:
            problems.append(f"syscall {nr}: {e}")
        finally:
            run.cleanup()
    for got, nrs in sorted(ends.items()):
        print(f"{got}: {len(nrs)} numbers: {' '.join(map(str, nrs))}")
    return report_problems(f"syscalls {first}-{last}", "see above", problems)


def host_check():
    """After the whole suite: no hostile process or pwned file remains."""
    ids = set()
    for n in os.listdir(HOSTILE_DIR):
        if n.startswith("hostile-") and os.path.isfile(os.path.join(HOSTILE_DIR, n)):
            ids.add(file_id(os.path.join(HOSTILE_DIR, n)))
    problems = []
    left = lingering(TOKEN_PREFIX, ids)
    if left:
        problems.append("hostile processes still running: " + ", ".join(
            describe_process(p) for p in left))
        kill_leftovers(left)
    if pwned_in_tmp():
        problems.append(f"files in /tmp: {pwned_in_tmp()}")
    return report_problems("host check", "checked", problems)


def report_problems(what, got, problems):
    if problems:
        print(f"FAIL {what} ({got}):")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(f"PASS {what}: {got}")
    return 0


def main(argv):
    try:
        if argv[1:] == ["--host-check"]:
            return host_check()
        if len(argv) == 3 and argv[1] == "syscalls":
            first, last = (int(x) for x in argv[2].split("-"))
            return run_syscalls(first, last)
        if len(argv) == 2 and argv[1] in PROGRAMS:
            return run_program(argv[1])
    except Failure as e:
        print(f"FAIL {' '.join(argv[1:])}: {e}")
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
