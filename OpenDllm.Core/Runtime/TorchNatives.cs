using System.Reflection;
using System.Runtime.InteropServices;
using OpenDllm.Build;
using TorchSharp;

namespace OpenDllm.Runtime;

/// <summary>What <see cref="TorchNatives.Load"/> loaded, by full path.</summary>
/// <param name="LibTorchFolder">The folder <c>libtorch_cpu.so</c> came from.</param>
/// <param name="Origin">How that folder was found: <c>application</c>, <c>nuget-cache</c>, <c>OPENDLLM_LIBTORCH</c>, or
/// <c>already loaded</c> (a host whose own loader got there first).</param>
/// <param name="TorchSharpNative">The <c>libLibTorchSharp.so</c> loaded: the private patched copy, or the original when
/// the system libstdc++ needs no patch.</param>
/// <param name="Weakened">libstdc++ versions marked weak in that copy (empty when none were needed).</param>
public sealed record TorchNativesInfo(string LibTorchFolder, string Origin, string TorchSharpNative, IReadOnlyList<string> Weakened)
{
    /// <summary>One line for a notebook or a script's log.</summary>
    public override string ToString() =>
        $"libtorch: {LibTorchFolder} ({Origin}); TorchSharp native: {TorchSharpNative}"
        + (Weakened.Count > 0 ? $" (weakened {string.Join(", ", Weakened)})" : "");
}

/// <summary>
/// Makes TorchSharp load in a host that did not build OpenDllm: a .NET Interactive kernel, <c>dotnet fsi</c>, a script
/// runner. Such hosts have no deps.json entry for the libtorch natives, so TorchSharp's loader either finds a system
/// libtorch (Debian's 1.13 in <c>/usr/lib</c>, which lacks symbols TorchSharp 0.107 needs) or its own fallback copy,
/// whose <c>libLibTorchSharp.so</c> needs GLIBCXX_3.4.32 (PLATFORM.md §1). Call <see cref="Load"/> once, before anything
/// touches <c>torch</c>.
/// </summary>
/// <remarks>
/// <para>Order of search for libtorch: <c>OPENDLLM_LIBTORCH</c> when set (delegated to <see cref="ExternalLibTorch"/>,
/// e.g. PyTorch's CUDA build); the application's own folder (<c>runtimes/linux-x64/native</c> or flat), then the folder
/// TorchSharp.dll was loaded from (a script referencing a build output); the NuGet
/// cache's <c>libtorch-cpu-linux-x64</c> of the release TorchSharp was built for (<see cref="LibTorchVersion.Built"/>),
/// under <c>NUGET_PACKAGES</c> or <c>~/.nuget/packages</c>. System folders are never used.</para>
/// <para>How: <c>libc10</c>, <c>libtorch_cpu</c> and <c>libtorch</c> are loaded by full path, then a private copy of
/// TorchSharp's <c>libLibTorchSharp.so</c> whose missing libstdc++ versions are marked weak with the same ELF code as the
/// build step (<see cref="GlibcxxCompat.Relax"/>). The loader answers later loads by soname with these copies, so
/// TorchSharp's own <c>NativeLibrary.TryLoad("torch_cpu")</c> binds to them; a DllImport resolver on the TorchSharp
/// assembly returns the handles as well.</para>
/// <para>In an application built with the natives (the CLI, the tests) this finds the application's copies, which the
/// build already patched: calling it there is harmless. Off Linux it does nothing and returns null.</para>
/// </remarks>
public static class TorchNatives
{
    /// <summary>The NuGet package holding the CPU libtorch.</summary>
    public const string CpuPackage = "libtorch-cpu-linux-x64";

    /// <summary>Where private patched copies go (a folder per content hash), unless <c>OPENDLLM_NATIVE_CACHE</c> names one.</summary>
    public const string CacheVariable = "OPENDLLM_NATIVE_CACHE";

    static readonly string[] LoadOrder = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];
    static readonly object Gate = new();
    static readonly Dictionary<string, IntPtr> Handles = new(StringComparer.Ordinal);
    static TorchNativesInfo? _loaded;

    /// <summary>What the last successful <see cref="Load"/> loaded, or null.</summary>
    public static TorchNativesInfo? Loaded { get { lock (Gate) return _loaded; } }

    /// <summary>
    /// Finds libtorch, loads it and a GLIBCXX-relaxed copy of <c>libLibTorchSharp.so</c> by full path, and returns what
    /// it loaded (idempotent: later calls return the first answer). Null off Linux. Throws
    /// <see cref="TorchLoadException"/> with a one-line cause when no libtorch is found or a library does not load.
    /// </summary>
    public static TorchNativesInfo? Load()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return null;
        lock (Gate)
        {
            if (_loaded is not null) return _loaded;
            if (ExternalLibTorch.Setting is not null)
            {
                ExternalLibTorch.Load();
                var external = ExternalLibTorch.Loaded!;
                return _loaded = new TorchNativesInfo(external.Path, external.Origin,
                                                      LoadedLibraries.FindOne("libLibTorchSharp.so") ?? "?", []);
            }
            if (LoadedLibraries.FindOne("libtorch_cpu.so") is { } mapped)
            {
                // The host loaded a libtorch already (an application with natives after its first tensor): keep it.
                return _loaded = new TorchNativesInfo(Path.GetDirectoryName(mapped)!, "already loaded",
                                                      LoadedLibraries.FindOne("libLibTorchSharp.so") ?? "?", []);
            }
            var (folder, origin) = FindLibTorch(Environment.GetEnvironmentVariable("NUGET_PACKAGES"), LocalFolders())
                                   ?? throw new TorchLoadException(
                                       $"no libtorch found: none beside the application and no {CpuPackage} {LibTorchVersion.Built}.x in the NuGet cache "
                                       + $"({NuGetCache(Environment.GetEnvironmentVariable("NUGET_PACKAGES"))}); restore a project that references it "
                                       + $"(dotnet build in the OpenDllm repository does), or set {ExternalLibTorch.Variable} to a libtorch folder");
            var original = ExternalLibTorch.TorchSharpNativePath()
                           ?? throw new TorchLoadException("libLibTorchSharp.so (TorchSharp's native library) is not beside TorchSharp.dll or the application");
            var (native, weakened) = RelaxedCopy(original, CacheRoot());
            foreach (var name in LoadOrder)
            {
                var path = Path.Combine(folder, name);
                if (File.Exists(path)) Handles[ExternalLibTorch.Key(name)] = LoadOrThrow(path);
            }
            Handles[ExternalLibTorch.Key("libLibTorchSharp.so")] = LoadOrThrow(native);
            try { NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, Resolve); }
            catch (InvalidOperationException) { /* a resolver is set already; the preloaded libraries still win by soname */ }
            return _loaded = new TorchNativesInfo(folder, origin, native, weakened);
        }
    }

    /// <summary>The application's folder, then the folder TorchSharp.dll came from (a script that #r's a build output).</summary>
    static IEnumerable<string> LocalFolders()
    {
        yield return AppContext.BaseDirectory;
        if (Path.GetDirectoryName(typeof(torch).Assembly.Location) is { Length: > 0 } torchSharpDir) yield return torchSharpDir;
    }

    /// <summary>
    /// The libtorch folder to use and how it was found: natives in one of <paramref name="localFolders"/> (the
    /// application's, under <c>runtimes/linux-x64/native</c> or flat) first, then the NuGet cache's <see cref="CpuPackage"/>
    /// of <see cref="LibTorchVersion.Built"/> (the newest patch release there). Null when none has one.
    /// </summary>
    public static (string Folder, string Origin)? FindLibTorch(string? nugetPackages, IEnumerable<string> localFolders)
    {
        foreach (var local in localFolders)
        foreach (var candidate in new[] { Path.Combine(local, "runtimes", "linux-x64", "native"), local })
            if (File.Exists(Path.Combine(candidate, "libtorch_cpu.so"))) return (Path.GetFullPath(candidate), "application");
        var package = Path.Combine(NuGetCache(nugetPackages), CpuPackage);
        if (!Directory.Exists(package)) return null;
        var built = LibTorchVersion.Built;
        var best = Directory.GetDirectories(package)
            .Select(d => (Dir: d, Version: System.Version.TryParse(Path.GetFileName(d), out var v) ? v : null))
            .Where(x => x.Version is { } v && v.Major == built.Major && v.Minor == built.Minor
                        && File.Exists(Path.Combine(x.Dir, "runtimes", "linux-x64", "native", "libtorch_cpu.so")))
            .OrderByDescending(x => x.Version)
            .FirstOrDefault();
        return best.Dir is null ? null : (Path.Combine(best.Dir, "runtimes", "linux-x64", "native"), "nuget-cache");
    }

    /// <summary>The NuGet global packages folder: <c>NUGET_PACKAGES</c> when set, else <c>~/.nuget/packages</c>.</summary>
    public static string NuGetCache(string? nugetPackages) =>
        nugetPackages is { Length: > 0 } p ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>
    /// A copy of <paramref name="original"/> under <paramref name="cacheRoot"/>/&lt;size-and-hash&gt;/ with the libstdc++
    /// versions the system lacks marked weak (<see cref="GlibcxxCompat.Relax"/>); the original when nothing is missing
    /// (or no system libstdc++ is found). The original is never written. Reused when already made.
    /// </summary>
    public static (string Path, IReadOnlyList<string> Weakened) RelaxedCopy(string original, string cacheRoot)
    {
        var system = GlibcxxCompat.FindSystemLibStdCxx();
        if (system is null) return (original, []);
        var missing = GlibcxxCompat.MissingVersions(original, system).Where(n => !n.IsWeak).Select(n => n.Version).ToList();
        if (missing.Count == 0) return (original, []);
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(original)))[..16].ToLowerInvariant();
        var folder = Path.Combine(cacheRoot, hash);
        var copy = Path.Combine(folder, Path.GetFileName(original));
        if (!File.Exists(copy))
        {
            Directory.CreateDirectory(folder);
            var staging = copy + $".{Environment.ProcessId}.tmp";
            File.Copy(original, staging, overwrite: true);
            var result = GlibcxxCompat.Relax(staging, system);
            if (result.UnsafeVersions.Count > 0)
                throw new TorchLoadException($"{original} needs {string.Join(", ", result.UnsafeVersions)} from libstdc++, which {system} lacks "
                                             + "and which relocations use; install a libstdc++ from GCC 13 or newer");
            File.Move(staging, copy, overwrite: true);   // atomic: a concurrent host sees either no copy or a whole one
        }
        return (copy, missing);
    }

    /// <summary><c>OPENDLLM_NATIVE_CACHE</c>, else <c>$XDG_CACHE_HOME/opendllm/natives</c> or <c>~/.cache/opendllm/natives</c>.</summary>
    static string CacheRoot()
    {
        if (Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } set) return set;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = xdg is { Length: > 0 } ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "opendllm", "natives");
    }

    static IntPtr LoadOrThrow(string path)
    {
        try { return NativeLibrary.Load(path); }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new TorchLoadException($"could not load {path}: {e.Message.Trim().Split('\n')[0]}", e);
        }
    }

    static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        lock (Gate) return Handles.TryGetValue(ExternalLibTorch.Key(libraryName), out var handle) ? handle : IntPtr.Zero;
    }
}
