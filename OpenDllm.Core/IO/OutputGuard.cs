namespace OpenDllm.IO;

/// <summary>
/// Refuses to write an output over something the command reads: an input file itself, or an existing file inside an input
/// folder (a checkpoint's <c>config.json</c> or weights, say). <c>--force</c> lifts the refusal. Paths are compared after
/// resolving relative parts and symbolic links, so <c>ckpt/../ckpt/config.json</c> and a link to it count as the same file.
/// </summary>
public static class OutputGuard
{
    /// <summary>
    /// Throws <see cref="IOException"/> naming <paramref name="option"/> and both paths when <paramref name="output"/> is one of
    /// <paramref name="inputs"/> (files), or an existing file under one of them (folders), unless <paramref name="force"/>.
    /// </summary>
    public static void EnsureSafe(string output, string option, bool force, params string?[] inputs)
    {
        if (force) return;
        var target = Canonical(output);
        foreach (var input in inputs)
        {
            if (string.IsNullOrEmpty(input)) continue;
            var source = Canonical(input);
            if (string.Equals(target, source, StringComparison.Ordinal))
                throw new IOException($"{option} {output}: this is an input of the command ({input}); writing it would destroy it "
                                      + "(choose another path, or pass --force)");
            if (Directory.Exists(source) && File.Exists(target) && IsUnder(target, source))
                throw new IOException($"{option} {output}: would overwrite a file of {input}, which the command reads "
                                      + "(choose another path, or pass --force)");
        }
    }

    /// <summary>Full path with symbolic links of the path itself and of its existing parents resolved.</summary>
    public static string Canonical(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        if (full.Length == 0) return Path.DirectorySeparatorChar.ToString();
        // resolve the deepest existing ancestor's links, then re-append the rest
        var existing = full;
        var rest = new Stack<string>();
        while (!File.Exists(existing) && !Directory.Exists(existing))
        {
            var parent = Path.GetDirectoryName(existing);
            if (parent is null) return full;
            rest.Push(Path.GetFileName(existing));
            existing = parent;
        }
        FileSystemInfo info = Directory.Exists(existing) ? new DirectoryInfo(existing) : new FileInfo(existing);
        var resolved = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
        var parentDir = Path.GetDirectoryName(resolved);
        if (parentDir is not null && parentDir != resolved)
            resolved = Path.Combine(Canonical(parentDir), Path.GetFileName(resolved));
        return rest.Aggregate(resolved, Path.Combine);
    }

    static bool IsUnder(string path, string folder) =>
        path.StartsWith(folder.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
