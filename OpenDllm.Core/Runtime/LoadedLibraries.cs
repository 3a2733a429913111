using System.Runtime.InteropServices;

namespace OpenDllm.Runtime;

/// <summary>
/// The shared libraries mapped into this process, read from <c>/proc/self/maps</c> (Linux). This is the ground truth
/// for "which libtorch is loaded": whatever TorchSharp, the loader's search path or <c>OPENDLLM_LIBTORCH</c> chose.
/// </summary>
public static class LoadedLibraries
{
    /// <summary>Full paths of the mapped files whose name is <paramref name="fileName"/> or starts with it followed by
    /// '.' or '-' (so <c>libcudart</c> finds <c>libcudart.so.13</c> and PyTorch's <c>libcudart-1a2b3c.so.12</c>).</summary>
    public static IReadOnlyList<string> Find(string fileName)
    {
        var found = new List<string>();
        foreach (var path in MappedFiles())
            if (NameMatches(fileName, Path.GetFileName(path)) && !found.Contains(path)) found.Add(path);
        return found;
    }

    /// <summary><paramref name="name"/> is <paramref name="fileName"/>, or it followed by '.' or '-' and more.</summary>
    internal static bool NameMatches(string fileName, string name) =>
        name == fileName || (name.Length > fileName.Length && name.StartsWith(fileName, StringComparison.Ordinal)
                             && name[fileName.Length] is '.' or '-');

    /// <summary>The first mapped file named <paramref name="fileName"/> (see <see cref="Find"/>), or null.</summary>
    public static string? FindOne(string fileName) => Find(fileName).FirstOrDefault();

    /// <summary>Every distinct file path in <c>/proc/self/maps</c>; empty off Linux.</summary>
    public static IEnumerable<string> MappedFiles()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || !File.Exists("/proc/self/maps")) yield break;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // address perms offset dev inode [path]; the path starts at the first '/' after the inode field.
            var slash = line.IndexOf('/');
            if (slash < 0) continue;
            var path = line[slash..];
            if (path.EndsWith(" (deleted)", StringComparison.Ordinal)) continue;
            if (seen.Add(path)) yield return path;
        }
    }
}
