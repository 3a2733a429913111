namespace OpenDllm.Evaluation;

/// <summary>
/// The Python runner every sandboxed program runs under (the in-process half of the sandbox; the OS half is
/// <see cref="SandboxIsolation"/>, and it is the boundary). Before the program it sets the rlimits when prlimit is
/// missing, and installs a seccomp filter that refuses every new process (fork, vfork, clone without CLONE_THREAD, clone3;
/// threads still work). The filter is kernel-enforced and inherited, so a program cannot lift it, even through ctypes.
/// It then compiles the program and, in the spirit of openai/human-eval's <c>reliability_guard</c> (our own code), as a
/// second layer only: disables process creation and signals in <c>os</c>/<c>subprocess</c>, destructive file calls
/// (remove, rename, rmtree, chmod, …), socket connections, ctypes and a few modules, and refuses to open files for
/// writing outside the temporary directory. Each of these can be bypassed from Python (<c>_io.FileIO</c>, the closure of
/// the guarded <c>open</c>, re-importing a module); what stops the bypass is the OS half.
/// The program runs with empty globals, as in human-eval's <c>exec(check_program, {})</c>: <c>__name__</c> is not
/// <c>"__main__"</c>, so a sample ending in <c>if __name__ == "__main__": unittest.main()</c> (or <c>assert False</c>)
/// passes exactly as it does there.
/// The program clock starts just before <c>exec</c> (human-eval's <c>signal.setitimer</c>), so process start and
/// isolation set-up do not count. The runner ends its output with a line <c>NONCE OUTCOME MS</c> (passed, failed or
/// timed_out, and the program's own run time); only a normal end writes "passed", which <see cref="PythonSandbox"/>
/// counts as a pass (<c>sys.exit</c>, <c>os._exit</c> or an exception all count as failures).
/// </summary>
public static class SandboxGuard
{
    /// <summary>The runner file's name inside the temporary directory.</summary>
    public const string RunnerFileName = "__opendllm_runner__.py";

    /// <summary>The program file's name inside the temporary directory.</summary>
    public const string ProgramFileName = "program.py";

    /// <summary>The environment variable carrying the per-run nonce (removed before the program starts).</summary>
    public const string NonceVariable = "OPENDLLM_SANDBOX_NONCE";

    /// <summary>
    /// Runner source. argv: [runner, program, "rlimit" | "-", cpu_s, as_bytes, fsize_bytes, nproc, "seccomp" | "-",
    /// timeout_s]. Exit code <see cref="SeccompFailedExitCode"/> means the filter could not be installed.
    /// </summary>
    public const string RunnerSource = """
import os, sys
def _opendllm_block_new_processes():
    # seccomp-bpf: fork/vfork -> EPERM, clone without CLONE_THREAD -> EPERM, clone3 -> ENOSYS (libc falls back to clone),
    # x32 syscalls -> EPERM, another architecture's syscall ABI -> kill
    import ctypes, platform, struct
    machine = platform.machine()
    if machine == "x86_64": arch, refused, clone = 0xC000003E, (57, 58), 56
    elif machine == "aarch64": arch, refused, clone = 0xC00000B7, (), 220
    else: raise OSError("no seccomp filter for " + machine)
    LD, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    ALLOW, EPERM, ENOSYS, KILL = 0x7FFF0000, 0x00050001, 0x00050026, 0x80000000
    prog = [(LD, 0, 0, 4), (JEQ, 1, 0, arch), (RET, 0, 0, KILL), (LD, 0, 0, 0)]
    if machine == "x86_64": prog += [(JGE, 0, 1, 0x40000000), (RET, 0, 0, EPERM)]
    for nr in refused: prog += [(JEQ, 0, 1, nr), (RET, 0, 0, EPERM)]
    prog += [(JEQ, 0, 1, 435), (RET, 0, 0, ENOSYS)]
    prog += [(JEQ, 0, 3, clone), (LD, 0, 0, 16), (JSET, 1, 0, 0x10000), (RET, 0, 0, EPERM), (RET, 0, 0, ALLOW)]
    raw = b"".join(struct.pack("=HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))
    class Fprog(ctypes.Structure): _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fprog = Fprog(len(prog), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(38, 1, 0, 0, 0) != 0: raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0: raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
    if _opendllm_fork_allowed(): raise OSError("the seccomp filter did not stop fork")
def _opendllm_fork_allowed():
    try: pid = os.fork()
    except OSError: return False
    if pid == 0: os._exit(0)
    os.waitpid(pid, 0)
    return True
def _opendllm_run():
    import builtins, io, _io, traceback, faulthandler, signal, time
    _exit, _write, _environ_pop, _clock, _setitimer = os._exit, os.write, os.environ.pop, time.perf_counter, signal.setitimer
    nonce = _environ_pop("OPENDLLM_SANDBOX_NONCE", "")
    started = [_clock()]
    def mark(outcome):
        try: _write(1, ("\n%s %s %.1f\n" % (nonce, outcome, (_clock() - started[0]) * 1000.0)).encode())
        except BaseException: pass
    if sys.argv[2] == "rlimit":  # no prlimit on this system: set the limits from inside
        import resource
        cpu, mem, fsize, nproc = (int(v) for v in sys.argv[3:7])
        for res, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, mem), (resource.RLIMIT_FSIZE, fsize)):
            try: resource.setrlimit(res, (value, value))
            except (ValueError, OSError): pass
    if sys.argv[7] == "seccomp":
        try: _opendllm_block_new_processes()
        except BaseException as e:
            _write(2, ("opendllm sandbox: cannot install the seccomp filter: %r\n" % (e,)).encode()); _exit(97)
    timeout = float(sys.argv[8])
    root = os.path.realpath(os.getcwd())
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        source = f.read()
    try:
        code = compile(source, "program.py", "exec")
    except BaseException:
        traceback.print_exc(limit=5); sys.stderr.flush(); mark("failed"); _exit(1)

    def blocked(name):
        def refuse(*args, **kwargs):
            raise PermissionError(name + " is disabled in the OpenDllm sandbox")
        return refuse
    import shutil, subprocess, socket, posix
    for mod in (os, posix):
        for name in ("kill", "killpg", "system", "popen", "putenv", "unsetenv", "remove", "unlink", "removedirs", "rmdir",
                     "rename", "renames", "replace", "truncate", "chmod", "fchmod", "lchmod", "chown", "fchown", "lchown",
                     "link", "symlink", "chroot", "chdir", "fchdir", "fork", "forkpty", "vfork", "setsid", "setpgid",
                     "setuid", "setgid", "seteuid", "setegid", "setreuid", "setregid", "mkfifo", "mknod",
                     "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "posix_spawn", "posix_spawnp",
                     "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "pidfd_open"):
            if hasattr(mod, name): setattr(mod, name, blocked("os." + name))
    for name in ("rmtree", "move", "chown", "copytree", "copy", "copy2", "copyfile", "make_archive", "unpack_archive"):
        setattr(shutil, name, blocked("shutil." + name))
    for name in ("Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"):
        setattr(subprocess, name, blocked("subprocess." + name))
    try:
        import _posixsubprocess; _posixsubprocess.fork_exec = blocked("fork_exec")
    except ImportError: pass
    for name in ("connect", "connect_ex", "bind", "sendto", "sendmsg"):
        setattr(socket.socket, name, blocked("socket." + name))
    for name in ("create_connection", "create_server", "getaddrinfo", "socketpair", "fromfd"):
        setattr(socket, name, blocked("socket." + name))
    for name in ("ctypes", "_ctypes", "resource", "psutil", "ipdb", "joblib", "tkinter", "pty"):
        sys.modules[name] = None

    real_open, real_os_open = _io.open, os.open
    def inside(path):
        if isinstance(path, int): return True
        p = os.path.realpath(os.fsdecode(path))
        return p == root or p.startswith(root + os.sep) or p == os.devnull
    def guarded_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and not inside(file):
            raise PermissionError("writing outside the sandbox directory is disabled: " + str(file))
        return real_open(file, mode, *args, **kwargs)
    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC) and not inside(path):
            raise PermissionError("writing outside the sandbox directory is disabled: " + str(path))
        return real_os_open(path, flags, *args, **kwargs)
    builtins.open = io.open = _io.open = guarded_open
    os.open = posix.open = guarded_os_open
    builtins.help = None
    faulthandler.disable()

    # the program clock: SIGALRM after `timeout` seconds of the program's own run (the signal is the runner's)
    def on_alarm(signum, frame):
        mark("timed_out"); _exit(3)
    real_signal = signal.signal
    real_signal(signal.SIGALRM, on_alarm)
    def guarded_signal(signalnum, handler):
        if signalnum == signal.SIGALRM: raise PermissionError("SIGALRM is the OpenDllm sandbox's clock")
        return real_signal(signalnum, handler)
    signal.signal = guarded_signal
    for name in ("setitimer", "alarm", "pthread_sigmask", "sigwait", "sigwaitinfo", "sigtimedwait", "pthread_kill"):
        if hasattr(signal, name): setattr(signal, name, blocked("signal." + name))

    # empty globals, as human-eval's exec(check_program, {}): __name__ resolves to builtins' "builtins", never "__main__"
    namespace = {"__builtins__": builtins}
    started[0] = _clock()
    _setitimer(signal.ITIMER_REAL, timeout)
    try:
        exec(code, namespace)
    except BaseException:
        _setitimer(signal.ITIMER_REAL, 0)
        try: traceback.print_exc(limit=5)
        except BaseException: pass
        try: sys.stdout.flush(); sys.stderr.flush()
        except BaseException: pass
        mark("failed"); _exit(1)
    _setitimer(signal.ITIMER_REAL, 0)
    try: sys.stdout.flush(); sys.stderr.flush()
    except BaseException: mark("failed"); _exit(1)
    mark("passed")
    _exit(0)
_opendllm_run()
""";

    /// <summary>The runner's exit code when the seccomp filter could not be installed (the probe then tries without it).</summary>
    public const int SeccompFailedExitCode = 97;

    /// <summary>The runner's exit code when the program clock fired.</summary>
    public const int TimedOutExitCode = 3;
}
