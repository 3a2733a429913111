using System.Globalization;
using System.Text.RegularExpressions;

namespace OpenDllm.Runtime;

/// <summary>
/// What a libtorch build says about itself: its version (<c>2.11.0+cu130</c>) and the CUDA version it was built for
/// (null for a CPU build), with where that came from. TorchSharp's <c>torch.__version__</c> cannot tell this: it is the
/// constant TorchSharp was compiled against ("2.10.0.0"), whichever libtorch is loaded.
/// </summary>
/// <param name="Version">The release, e.g. <c>2.11.0+cu130</c> or <c>2.10.0</c>; null when nothing said it.</param>
/// <param name="Cuda">The CUDA version the build targets, e.g. <c>13.0</c>; null for a CPU build or when unknown.</param>
/// <param name="Source">Where the facts were read: a file path or <c>at::show_config()</c>.</param>
public sealed record LibTorchVersion(string? Version, string? Cuda, string Source)
{
    /// <summary>TorchSharp 0.107 is built against libtorch 2.10; older releases lack symbols it needs.</summary>
    public static readonly Version Minimum = new(2, 10);

    /// <summary>The release TorchSharp 0.107 was built for.</summary>
    public static readonly Version Built = new(2, 10);

    /// <summary>major.minor of <see cref="Version"/>, or null when it is missing or not a version.</summary>
    public Version? MajorMinor => Parse(Version);

    /// <summary>True when the version is known and older than <see cref="Minimum"/>.</summary>
    public bool TooOld => MajorMinor is { } v && v < Minimum;

    /// <summary>major.minor of a PyTorch version string such as <c>2.11.0+cu130</c> or <c>1.13.1a0</c>.</summary>
    public static Version? Parse(string? version)
    {
        if (version is null) return null;
        var m = Regex.Match(version, @"^\s*(\d+)\.(\d+)");
        return m.Success ? new Version(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
                                       int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)) : null;
    }

    /// <summary>
    /// Reads a PyTorch package's <c>torch/version.py</c>: <c>__version__ = '2.11.0+cu130'</c> and
    /// <c>cuda: Optional[str] = '13.0'</c> (older releases write <c>cuda = '11.7'</c>; CPU builds <c>None</c>).
    /// </summary>
    public static LibTorchVersion? FromVersionPy(string path)
    {
        if (!File.Exists(path)) return null;
        var text = File.ReadAllText(path);
        string? Field(string name)
        {
            var m = Regex.Match(text, $@"^\s*{Regex.Escape(name)}\s*(?::[^=\n]*)?=\s*(?:['""]([^'""]*)['""]|None)", RegexOptions.Multiline);
            return m.Success && m.Groups[1].Success ? m.Groups[1].Value : null;
        }
        return new LibTorchVersion(Field("__version__"), Field("cuda"), path);
    }

    /// <summary>Reads the one-line <c>build-version</c> file of a libtorch distribution (e.g. <c>2.10.0+cu128</c>).</summary>
    public static LibTorchVersion? FromBuildVersionFile(string path)
    {
        if (!File.Exists(path)) return null;
        var version = File.ReadAllText(path).Trim();
        if (version.Length == 0) return null;
        var cuda = Regex.Match(version, @"\+cu(\d+)(\d)$");
        return new LibTorchVersion(version, cuda.Success ? $"{cuda.Groups[1].Value}.{cuda.Groups[2].Value}" : null, path);
    }

    /// <summary>
    /// Parses the text of <c>at::show_config()</c>: its "Build settings" line holds <c>TORCH_VERSION=2.10.0</c>,
    /// <c>USE_CUDA=ON</c>/<c>0</c> and, for CUDA builds, <c>CUDA_VERSION=13.0</c>.
    /// </summary>
    public static LibTorchVersion? FromShowConfig(string text)
    {
        string? Setting(string name)
        {
            var m = Regex.Match(text, $@"(?:^|[\s,]){Regex.Escape(name)}=([^,\s]+)");
            return m.Success ? m.Groups[1].Value : null;
        }
        var version = Setting("TORCH_VERSION");
        if (version is null) return null;
        var useCuda = Setting("USE_CUDA") is "ON" or "1" or "TRUE" or "True";
        return new LibTorchVersion(version, useCuda ? Setting("CUDA_VERSION") : null, "at::show_config()");
    }

    /// <summary>
    /// The version files beside a libtorch library folder: <c>../version.py</c> for PyTorch's <c>torch/lib</c>, or
    /// <c>../build-version</c> for a libtorch distribution's <c>libtorch/lib</c>. Null when neither is there.
    /// </summary>
    public static LibTorchVersion? FromFolder(string libFolder)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(libFolder).TrimEnd(Path.DirectorySeparatorChar));
        if (parent is null) return null;
        return FromVersionPy(Path.Combine(parent, "version.py")) ?? FromBuildVersionFile(Path.Combine(parent, "build-version"));
    }

    public override string ToString() =>
        (Version ?? "unknown version") + (Cuda is { } c ? $", CUDA {c}" : ", CPU build") + $" (from {Source})";
}
