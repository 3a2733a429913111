using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace OpenDllm.Runtime;

/// <summary>A libtorch library folder chosen through <c>OPENDLLM_LIBTORCH</c>.</summary>
/// <param name="Path">The folder holding <c>libtorch_cpu.so</c>, <c>libc10.so</c> (and, for CUDA, <c>libtorch_cuda.so</c>).</param>
/// <param name="Version">What the folder's version files say (null when it has none: then the library itself is asked).</param>
/// <param name="Origin">How it was chosen, for messages: the variable's value and, for <c>auto</c>, the Python asked.</param>
public sealed record LibTorchFolder(string Path, LibTorchVersion? Version, string Origin);

/// <summary>
/// Runs OpenDllm on a libtorch the user already has, usually PyTorch's own <c>torch/lib</c> (with CUDA), instead of the
/// libtorch natives shipped with the application. Set <c>OPENDLLM_LIBTORCH</c> to the folder, or to <c>auto</c> to ask
/// Python (<c>OPENDLLM_PYTHON</c>, default <c>python3</c>) where its <c>torch</c> package is.
/// </summary>
/// <remarks>
/// <para>How: <c>LD_LIBRARY_PATH</c> is read once by the loader at process start, so it cannot be changed from inside.
/// Instead the folder's libraries are loaded by full path, dependencies first (<c>libc10</c>, <c>libc10_cuda</c>,
/// <c>libtorch_cpu</c>, <c>libtorch_cuda</c>, <c>libtorch</c>), then TorchSharp's own <c>libLibTorchSharp.so</c> from
/// the application. The dynamic loader satisfies a library's dependency by an already-loaded library of the same
/// soname before it searches any path, so <c>libLibTorchSharp.so</c> binds to these copies; their own dependencies
/// (CUDA runtime, cuBLAS, cuDNN, OpenMP) are found through the RUNPATH that PyTorch's libraries carry.</para>
/// <para>TorchSharp 0.107 (src/TorchSharp/Torch.cs, <c>LoadNativeBackend</c>) loads <c>torch_cuda</c> then
/// <c>LibTorchSharp</c> from its static constructor, <c>torch_cpu</c> when the CPU device is first initialised, all
/// through <c>NativeLibrary.TryLoad(name, assembly, …)</c>, and calls it CUDA when <c>THSTorchCuda_is_available()</c>
/// says so (<c>TryInitializeDeviceType</c>). Loaded by name, they resolve to the preloaded copies by soname, unless the
/// application ships its own libtorch: then the CPU load maps a second <c>libtorch_cpu.so</c>, so such an application
/// is refused with the fix (<see cref="BundledLibTorch"/>). P/Invokes into <c>LibTorchSharp</c> go through a DllImport
/// resolver that answers with the preloaded handle.</para>
/// <para>Unset (the default) nothing here runs and no Python is started.</para>
/// </remarks>
public static class ExternalLibTorch
{
    /// <summary>The folder to load libtorch from, or <c>auto</c>.</summary>
    public const string Variable = "OPENDLLM_LIBTORCH";

    /// <summary>The Python interpreter <c>auto</c> asks (default <c>python3</c>); the default corpus uses it too.</summary>
    public const string PythonVariable = "OPENDLLM_PYTHON";

    /// <summary>Libraries preloaded from the folder, dependencies first; those missing from a CPU build are skipped.</summary>
    static readonly string[] LoadOrder = ["libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"];

    static readonly object Gate = new();
    static readonly Dictionary<string, IntPtr> Handles = new(StringComparer.Ordinal);
    static bool _resolverInstalled;
    static TorchLoadException? _failure;

    /// <summary>The value of <c>OPENDLLM_LIBTORCH</c>, or null when unset or blank.</summary>
    public static string? Setting => Environment.GetEnvironmentVariable(Variable) is { } v && v.Trim().Length > 0 ? v.Trim() : null;

    /// <summary>The Python that <c>auto</c> asks.</summary>
    public static string Python => Environment.GetEnvironmentVariable(PythonVariable) is { Length: > 0 } p ? p : "python3";

    /// <summary>The folder this process loaded libtorch from, or null (variable unset, or not loaded yet).</summary>
    public static LibTorchFolder? Loaded { get; private set; }

    /// <summary>Registers <see cref="Resolve"/> on the TorchSharp assembly, once.</summary>
    static void InstallResolver()
    {
        if (_resolverInstalled) return;
        _resolverInstalled = true;
        try { NativeLibrary.SetDllImportResolver(typeof(torch).Assembly, Resolve); }
        catch (InvalidOperationException) { /* the host set its own resolver; the preloaded libraries still win by soname */ }
    }

    /// <summary>
    /// Locates and loads the folder named by <c>OPENDLLM_LIBTORCH</c> (no-op when unset, or when already loaded). It must
    /// run before anything touches <c>torch</c>: <see cref="TorchRuntime.EnsureLoaded"/> calls it first.
    /// Throws <see cref="TorchLoadException"/> with a one-line cause; a failure is remembered and thrown again.
    /// </summary>
    public static void Load()
    {
        var setting = Setting;
        if (setting is null) return;
        lock (Gate)
        {
            if (_failure is not null) throw _failure;
            if (Loaded is not null) return;
            try
            {
                if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
                    throw new TorchLoadException($"{Variable}={setting}: supported on Linux only; unset it to use the bundled libtorch");
                if (BundledLibTorch() is { } bundled)
                    throw new TorchLoadException($"{Variable}={setting}: this application ships its own libtorch ({bundled}), which TorchSharp "
                                                 + "would load beside the chosen one; build or publish it with -p:TorchBackend=external (README: GPUs)");
                var folder = Locate(setting, Python);
                Preload(folder);
                Loaded = folder;
                InstallResolver();
            }
            catch (TorchLoadException e)
            {
                _failure = e;
                throw;
            }
        }
    }

    /// <summary>Why the last <see cref="Load"/> failed, for <see cref="TorchRuntime"/>'s diagnosis; null when it did not.</summary>
    internal static TorchLoadException? Failure => _failure;

    /// <summary>
    /// The folder for a setting: <c>auto</c> asks <paramref name="python"/>; anything else is a folder path. Checks that it
    /// holds libtorch and that a version it states is not older than <see cref="LibTorchVersion.Minimum"/>.
    /// </summary>
    public static LibTorchFolder Locate(string setting, string python)
    {
        if (string.Equals(setting, "auto", StringComparison.OrdinalIgnoreCase)) return FromPython(python);
        var path = Path.GetFullPath(setting);
        var origin = $"{Variable}={setting}";
        if (!Directory.Exists(path))
            throw new TorchLoadException($"{origin}: no such folder; point it at a folder holding libtorch_cpu.so (PyTorch's torch/lib) or set it to auto");
        return Check(new LibTorchFolder(path, LibTorchVersion.FromFolder(path), origin));
    }

    /// <summary>Asks <paramref name="python"/> where its <c>torch</c> package is, without importing it (fast, and no CUDA start-up).</summary>
    public static LibTorchFolder FromPython(string python)
    {
        var origin = $"{Variable}=auto ({python})";
        const string script = "import importlib.util, os, sys\n"
                              + "s = importlib.util.find_spec('torch')\n"
                              + "print(sys.executable)\n"
                              + "print(os.path.dirname(s.origin) if s is not None and s.origin else '')\n";
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        Process? process;
        try { process = Process.Start(info); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new TorchLoadException($"{origin}: could not run `{python}` ({e.Message}); set {PythonVariable} to the Python that has PyTorch, or {Variable} to its torch/lib folder", e);
        }
        if (process is null) throw new TorchLoadException($"{origin}: could not run `{python}`");
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                process.Kill(entireProcessTree: true);
                throw new TorchLoadException($"{origin}: `{python}` did not answer within 60 s");
            }
            var lines = stdout.Result.Split('\n', StringSplitOptions.TrimEntries);
            if (process.ExitCode != 0 || lines.Length < 2)
                throw new TorchLoadException($"{origin}: `{python}` exited with {process.ExitCode}: {FirstLine(stderr.Result)}");
            var executable = lines[0];
            var torchDir = lines[1];
            origin = $"{Variable}=auto ({executable})";
            if (torchDir.Length == 0)
                throw new TorchLoadException($"{origin}: this Python has no torch package; install PyTorch ≥ {LibTorchVersion.Minimum} "
                                             + $"(a CUDA build for GPUs), or set {PythonVariable} to a Python that has it");
            var version = LibTorchVersion.FromVersionPy(Path.Combine(torchDir, "version.py"));
            if (version?.TooOld == true)
                throw TooOld(origin, version, torchDir);
            var lib = Path.Combine(torchDir, "lib");
            return Check(new LibTorchFolder(lib, version, origin));
        }
    }

    /// <summary>A folder must hold libc10.so and libtorch_cpu.so, and must not state a version below the minimum.</summary>
    static LibTorchFolder Check(LibTorchFolder folder)
    {
        if (folder.Version?.TooOld == true) throw TooOld(folder.Origin, folder.Version, folder.Path);
        foreach (var required in new[] { "libtorch_cpu.so", "libc10.so" })
            if (!File.Exists(Path.Combine(folder.Path, required)))
                throw new TorchLoadException($"{folder.Origin}: {folder.Path} has no {required}; point {Variable} at a libtorch library folder (PyTorch's torch/lib)");
        return folder;
    }

    static TorchLoadException TooOld(string origin, LibTorchVersion version, string where) =>
        new($"{origin}: libtorch {version.Version} at {where} is too old; TorchSharp 0.107 needs libtorch {LibTorchVersion.Minimum} or newer "
            + $"(set {PythonVariable} to a Python with torch ≥ {LibTorchVersion.Minimum}, or {Variable} to such a libtorch folder)");

    /// <summary>Loads the folder's libraries and TorchSharp's native library by full path, in dependency order.</summary>
    static void Preload(LibTorchFolder folder)
    {
        foreach (var name in LoadOrder)
        {
            var path = Path.Combine(folder.Path, name);
            if (!File.Exists(path)) continue;
            Handles[Key(name)] = LoadOrThrow(path, folder.Origin);
            // A folder without version files (a bare libtorch/lib) is asked once its CPU library is in: refuse an old
            // build before TorchSharp's library is bound to it.
            if (name == "libtorch_cpu.so" && folder.Version is null
                && NativeConfig.ShowConfig(path) is { } config && LibTorchVersion.FromShowConfig(config) is { TooOld: true } v)
                throw TooOld(folder.Origin, v, folder.Path);
        }
        var torchSharp = TorchSharpNativePath()
                         ?? throw new TorchLoadException($"{folder.Origin}: libLibTorchSharp.so (TorchSharp's native library) is not next to the "
                                                         + "application or TorchSharp.dll; build or publish the application with the TorchSharp package");
        Handles[Key("libLibTorchSharp.so")] = LoadOrThrow(torchSharp, folder.Origin);
    }

    static IntPtr LoadOrThrow(string path, string origin)
    {
        try { return NativeLibrary.Load(path); }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            throw new TorchLoadException($"{origin}: could not load {path}: {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>
    /// TorchSharp's <c>libLibTorchSharp.so</c> as this process would use it: in the application's folder (under
    /// <c>runtimes/linux-x64/native</c> or flat), else beside TorchSharp.dll (a test runner, or the NuGet cache's layout
    /// <c>torchsharp/V/lib/netX/../../runtimes/linux-x64/native</c>). Null when none is found.
    /// </summary>
    public static string? TorchSharpNativePath()
    {
        var torchSharpDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        var roots = new List<string> { AppContext.BaseDirectory };
        if (!string.IsNullOrEmpty(torchSharpDir))
        {
            roots.Add(torchSharpDir);
            roots.Add(Path.Combine(torchSharpDir, "..", ".."));
        }
        foreach (var root in roots)
        foreach (var candidate in new[] { Path.Combine(root, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"), Path.Combine(root, "libLibTorchSharp.so") })
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        return null;
    }

    /// <summary>
    /// A libtorch library that this application ships where .NET looks first (the deps.json native folders, the
    /// application folder), or null. TorchSharp 0.107 loads <c>torch_cpu</c> from the static initialiser of
    /// <c>torch.CPU</c> through <c>NativeLibrary.TryLoad("torch_cpu", assembly)</c>, which neither consults DllImport
    /// resolvers nor prefers a library already loaded: it would map the shipped copy beside the chosen one, and libtorch
    /// aborts ("Tried to register multiple backend fallbacks", seen here). So the chosen libtorch needs an application
    /// built without libtorch natives (<c>-p:TorchBackend=external</c>); setting <c>LD_LIBRARY_PATH</c> instead has the
    /// same conflict, since those folders come before it.
    /// </summary>
    public static string? BundledLibTorch()
    {
        var folders = (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).ToList();
        folders.Add(AppContext.BaseDirectory);
        if (Path.GetDirectoryName(typeof(torch).Assembly.Location) is { Length: > 0 } torchSharpDir) folders.Add(torchSharpDir);
        foreach (var folder in folders)
        foreach (var name in new[] { "libtorch_cpu.so", "libtorch_cuda.so" })
            if (File.Exists(Path.Combine(folder, name))) return Path.GetFullPath(Path.Combine(folder, name));
        return null;
    }

    /// <summary>P/Invokes into <c>LibTorchSharp</c> (and loads by the other names) get the preloaded copies.</summary>
    static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        lock (Gate) return Handles.TryGetValue(Key(libraryName), out var handle) ? handle : IntPtr.Zero;
    }

    /// <summary><c>libtorch_cpu.so</c>, <c>torch_cpu</c> → <c>torch_cpu</c>.</summary>
    internal static string Key(string libraryName)
    {
        var name = Path.GetFileName(libraryName);
        if (name.EndsWith(".so", StringComparison.Ordinal)) name = name[..^3];
        if (name.StartsWith("lib", StringComparison.Ordinal) && name != "lib") name = name[3..];
        return name;
    }

    static string FirstLine(string text) => text.Trim().Split('\n')[0].Trim();
}
