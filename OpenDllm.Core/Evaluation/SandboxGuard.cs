namespace OpenDllm.Evaluation;

/// <summary>
/// The Python runner every sandboxed program runs under (the in-process half of the sandbox; the OS half is
/// <see cref="SandboxIsolation"/>). It compiles the program, then, in the spirit of openai/human-eval's
/// <c>reliability_guard</c> (our own code): stays in the temporary directory, disables process creation and signals
/// (os.fork/system/exec*/spawn*/kill, subprocess), destructive file calls (remove, rename, rmtree, chmod, …), socket
/// connections, ctypes and a few modules, and refuses to open files for writing outside the temporary directory.
/// It then executes the program; only a normal end prints the per-run nonce that <see cref="PythonSandbox"/>
/// counts as a pass (<c>sys.exit</c>, <c>os._exit</c> or an exception all count as failures).
/// This guard is not a security boundary on its own: it keeps honest-but-wrong code from doing damage, while the
/// OS isolation (network namespace, rlimits, unprivileged user) is what holds against deliberate escapes.
/// </summary>
public static class SandboxGuard
{
    /// <summary>The runner file's name inside the temporary directory.</summary>
    public const string RunnerFileName = "__opendllm_runner__.py";

    /// <summary>The program file's name inside the temporary directory.</summary>
    public const string ProgramFileName = "program.py";

    /// <summary>The environment variable carrying the per-run nonce (removed before the program starts).</summary>
    public const string NonceVariable = "OPENDLLM_SANDBOX_NONCE";

    /// <summary>Runner source. argv: [runner, program, "rlimit" | "-", cpu_s, as_bytes, fsize_bytes, nproc].</summary>
    public const string RunnerSource = """
import os, sys
def _opendllm_run():
    import builtins, io, _io, traceback, faulthandler
    _exit, _write, _environ_pop = os._exit, os.write, os.environ.pop
    nonce = _environ_pop("OPENDLLM_SANDBOX_NONCE", "")
    if sys.argv[2] == "rlimit":  # no prlimit on this system: set the limits from inside
        import resource
        cpu, mem, fsize, nproc = (int(v) for v in sys.argv[3:7])
        for res, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, mem), (resource.RLIMIT_FSIZE, fsize)):
            try: resource.setrlimit(res, (value, value))
            except (ValueError, OSError): pass
    root = os.path.realpath(os.getcwd())
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        source = f.read()
    try:
        code = compile(source, "program.py", "exec")
    except BaseException:
        traceback.print_exc(limit=5); sys.stderr.flush(); _exit(1)

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

    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(code, namespace)
    except BaseException:
        try: traceback.print_exc(limit=5)
        except BaseException: pass
        try: sys.stdout.flush(); sys.stderr.flush()
        except BaseException: pass
        _exit(1)
    try: sys.stdout.flush(); sys.stderr.flush()
    except BaseException: _exit(1)
    _write(1, ("\n" + nonce + "\n").encode())
    _exit(0)
_opendllm_run()
""";
}
