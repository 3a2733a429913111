namespace OpenDllm.Evaluation;

/// <summary>
/// The file-system half of the sandbox: a private mount namespace in which everything is read-only except the sample's
/// own folder and fresh, size-limited tmpfs mounts on <c>/tmp</c>, <c>/var/tmp</c> and <c>/dev/shm</c> (gone when the
/// program ends). Two ways to build it, both also giving new network, PID and IPC namespaces:
/// <list type="bullet">
/// <item><see cref="Bubblewrap"/>: Debian's <c>bwrap</c> (<c>--ro-bind / /</c>, then the tmpfs and sample mounts);</item>
/// <item><see cref="UnshareScript"/>: <c>unshare -m</c> plus a short <c>sh</c> script that remounts every mount
/// read-only and adds the same writable mounts, for machines without bubblewrap.</item>
/// </list>
/// <c>{dir}</c> in the returned argv stands for the sample folder and <c>{tmpfs}</c> for the tmpfs size in bytes; the
/// sandbox fills both in per run.
/// </summary>
public static class SandboxMounts
{
    /// <summary>
    /// bwrap argv up to (not including) the command. As root, capabilities are dropped except CAP_SETUID/CAP_SETGID, which
    /// <c>setpriv</c> (next in the argv) uses to become <c>nobody</c> and then loses; as another user bwrap runs in a user
    /// namespace and keeps no capabilities.
    /// </summary>
    public static IReadOnlyList<string> Bubblewrap(string bwrap, bool root)
    {
        var args = new List<string>
        {
            bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", "{tmpfs}", "--tmpfs", "/tmp",
            "--perms", "1777", "--size", "{tmpfs}", "--tmpfs", "/var/tmp",
            "--perms", "1777", "--size", "{tmpfs}", "--tmpfs", "/dev/shm",
            "--bind", "{dir}", "{dir}", "--chdir", "{dir}",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session",
        };
        if (root) args.AddRange(["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]);
        else args.Add("--unshare-user");
        args.Add("--");
        return args;
    }

    /// <summary>
    /// <c>unshare</c> argv up to the command: new mount, network, PID and IPC namespaces, then <see cref="SetupScript"/>
    /// run by <c>sh</c> as PID 1, which execs the command. Needs root (or a user namespace that may remount, <c>-r</c>).
    /// </summary>
    public static IReadOnlyList<string> UnshareScript(string unshare, string shell, bool root) =>
    [
        unshare, .. root ? Array.Empty<string>() : ["--map-root-user"],
        "--mount", "--net", "--pid", "--ipc", "--fork", "--kill-child", "--propagation", "private", "--",
        shell, "-c", SetupScript, "opendllm-sandbox", "{dir}", "{tmpfs}",
    ];

    /// <summary>
    /// Runs as PID 1 of the new namespaces with <c>$1</c> = sample folder, <c>$2</c> = tmpfs bytes, the command after them.
    /// It keeps a handle on the sample folder (a tmpfs will cover <c>/tmp</c>), remounts every mount read-only, mounts the
    /// tmpfs folders and a fresh <c>/proc</c>, binds the folder back (writable) and execs the command there. Any failing
    /// step stops it (<c>set -e</c>), so a probe fails instead of running with a half-built sandbox.
    /// </summary>
    public const string SetupScript = """
set -eu
dir=$1; size=$2; shift 2
exec 3<"$dir"
while read -r _ _ _ _ mountpoint _; do mount -o remount,bind,ro "$mountpoint"; done < /proc/self/mountinfo
for t in /tmp /var/tmp /dev/shm; do mount -t tmpfs -o "mode=1777,size=$size,nosuid,nodev" tmpfs "$t"; done
mkdir -p "$dir"
mount --no-canonicalize --bind /proc/self/fd/3 "$dir"
mount -o remount,bind,rw,nosuid,nodev "$dir"
exec 3<&-
mount -t proc -o nosuid,nodev,noexec proc /proc
cd "$dir"
exec "$@"
""";
}
