using System.Reflection;
using System.Runtime.InteropServices;
using OpenDllm.Build;
using TorchSharp;

namespace OpenDllm.Runtime;

/// <summary>
/// Loads TorchSharp once, and when that fails says the real cause in one line (PLATFORM.md §1: TorchSharp
/// reports a missing GLIBCXX version as "doesn't contain a reference to libtorch-cpu-linux-x64").
/// With <c>OPENDLLM_LIBTORCH</c> set it first loads that libtorch (usually PyTorch's, with CUDA; see
/// <see cref="ExternalLibTorch"/>). Also picks the default device: CUDA when present, else CPU.
/// </summary>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static bool _loaded;
    static LoadedLibTorch? _libTorch;

    /// <summary>Initialises TorchSharp or throws <see cref="TorchLoadException"/> with the cause and the fix.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            ExternalLibTorch.Load();   // no-op unless OPENDLLM_LIBTORCH is set; throws TorchLoadException with the cause
            // TorchSharp prints a long loader trace to stdout when it fails; keep it for OPENDLLM_TORCH_TRACE=1
            // and say the cause in one line instead.
            var stdout = Console.Out;
            var trace = new StringWriter();
            Console.SetOut(trace);
            try
            {
                _ = torch.get_num_threads();
                _loaded = true;
            }
            catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException)
            {
                Console.SetOut(stdout);
                if (Environment.GetEnvironmentVariable("OPENDLLM_TORCH_TRACE") == "1") Console.Error.WriteLine(trace);
                throw new TorchLoadException(Diagnose(e), e);
            }
            finally
            {
                Console.SetOut(stdout);
            }
        }
    }

    /// <summary>The device new tensors and modules should use: CUDA when available, otherwise CPU.</summary>
    public static torch.Device DefaultDevice
    {
        get
        {
            EnsureLoaded();
            return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        }
    }

    /// <summary>
    /// The device a user named: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>; null or empty means <see cref="DefaultDevice"/>.
    /// A CUDA device that this libtorch cannot reach is an error naming the value, not a silent fallback to the CPU.
    /// </summary>
    public static torch.Device ParseDevice(string? spec, string option = "--device")
    {
        EnsureLoaded();
        if (string.IsNullOrWhiteSpace(spec)) return DefaultDevice;
        var s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return torch.CPU;
        if (s == "cuda" || s.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new ArgumentException($"{option} {spec}: CUDA is not available to this libtorch ({LibTorch.VersionText}); "
                                            + "run `opendllm doctor`, or use --device cpu");
            if (s == "cuda") return torch.CUDA;
            if (!int.TryParse(s[5..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
                throw new ArgumentException($"{option} {spec}: expected cuda:N with N a device index");
            int count = torch.cuda.device_count();
            if (index >= count)
                throw new ArgumentException($"{option} {spec}: only {count} CUDA device(s) are visible (cuda:0 … cuda:{count - 1})");
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"{option} {spec}: expected cpu, cuda or cuda:N");
    }

    /// <summary>Sets intra-op and inter-op thread counts (PLATFORM.md §1: set them explicitly).</summary>
    public static void SetThreads(int threads)
    {
        EnsureLoaded();
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "must be at least 1");
        torch.set_num_threads(threads);
    }

    /// <summary>TorchSharp's libLibTorchSharp.so: the one mapped into this process once loaded, else the one it would load.</summary>
    public static string? NativeLibraryPath() =>
        LoadedLibraries.FindOne("libLibTorchSharp.so") ?? ExternalLibTorch.TorchSharpNativePath();

    /// <summary>One line: what went wrong loading TorchSharp and how to fix it.</summary>
    internal static string Diagnose(Exception e)
    {
        if (ExternalLibTorch.Failure is { } external) return external.Message;
        if (ExternalLibTorch.Loaded is { } folder)
            return $"TorchSharp failed to load on the libtorch in {folder.Path} ({folder.Origin}"
                   + (folder.Version?.Version is { } v ? $", torch {v}" : "") + $"): {Innermost(e).Message.Split('\n')[0]} "
                   + "(set OPENDLLM_TORCH_TRACE=1 for TorchSharp's loader trace; other libtorch versions than 2.10 and 2.11 are unverified)";
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            return $"TorchSharp failed to load: {Innermost(e).Message}";
        var native = NativeLibraryPath();
        var system = GlibcxxCompat.FindSystemLibStdCxx();
        if (native == null)
        {
            var shadow = new[] { "/lib/x86_64-linux-gnu/libtorch_cpu.so", "/usr/lib/x86_64-linux-gnu/libtorch_cpu.so" }.FirstOrDefault(File.Exists);
            return "TorchSharp failed to load: libLibTorchSharp.so is not next to the application; an executable must reference "
                   + "libtorch-cpu-linux-x64 (OpenDllm projects set <OpenDllmTorchNatives>true</OpenDllmTorchNatives>), and a script host "
                   + "such as dotnet fsi must NativeLibrary.Load the built natives by full path first (see recipes/fsharp-repl.fsx)"
                   + (shadow is null ? "." : $"; {shadow} (another libtorch) would otherwise be loaded instead.");
        }
        if (system != null)
        {
            try
            {
                var missing = GlibcxxCompat.MissingVersions(native, system).Where(n => !n.IsWeak).Select(n => n.Version).ToList();
                if (missing.Count > 0)
                    return $"TorchSharp failed to load: {native} needs {string.Join(", ", missing)} but {system} lacks it; "
                           + "rebuild with `dotnet build` so OpenDllm's build step relaxes it (see Directory.Build.targets), "
                           + "or install libstdc++ from GCC 13+.";
            }
            catch (InvalidDataException) { /* fall through to the generic message */ }
        }
        if (ExternalLibTorch.Setting is null && ExternalLibTorch.BundledLibTorch() is null
            && !File.Exists(Path.Combine(Path.GetDirectoryName(native)!, "libtorch_cpu.so")))
            return "TorchSharp failed to load: this application ships no libtorch (built with -p:TorchBackend=external, as the GPU "
                   + $"check bundle is); set {ExternalLibTorch.Variable}=auto to use the installed PyTorch's, or {ExternalLibTorch.Variable} "
                   + "to a folder holding libtorch_cpu.so";
        return $"TorchSharp failed to load from {native}: {Innermost(e).Message.Split('\n')[0]} "
               + "(set OPENDLLM_TORCH_TRACE=1 for TorchSharp's loader trace, or diagnose with LD_DEBUG=files,versions)";
    }

    static Exception Innermost(Exception e)
    {
        while (e.InnerException != null) e = e.InnerException;
        return e;
    }

    /// <summary>The libtorch this process runs on (path, real version, CUDA build); read once, after loading.</summary>
    public static LoadedLibTorch LibTorch
    {
        get
        {
            EnsureLoaded();
            lock (Gate) return _libTorch ??= LoadedLibTorch.Inspect();
        }
    }

    /// <summary>Runtime facts for `opendllm doctor`.</summary>
    public static IReadOnlyList<(string Name, string Value)> Facts()
    {
        EnsureLoaded();
        var torchSharp = typeof(torch).Assembly;
        var libtorch = LibTorch;
        bool cuda = torch.cuda.is_available();
        var facts = new List<(string, string)>
        {
            ("TorchSharp", torchSharp.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0]
                           ?? torchSharp.GetName().Version?.ToString() ?? "?"),
            ("libtorch", libtorch.VersionText + (libtorch.Build?.Source is { } source ? $" (read from {source})" : "")),
            ("libtorch library", libtorch.LibraryPath ?? "(not visible in /proc/self/maps)"),
            ("libtorch chosen by", libtorch.Origin),
            ("libtorch CUDA build", libtorch.Build is null ? "unknown" : libtorch.Build.Cuda ?? "none (CPU build)"),
            (".NET", RuntimeInformation.FrameworkDescription),
            ("OS", RuntimeInformation.OSDescription),
            ("CUDA available", cuda ? $"yes ({torch.cuda.device_count()} device(s))" : "no"),
        };
        if (cuda)
        {
            if (CudaDevices.RuntimeVersion() is { } rt) facts.Add(("CUDA runtime", $"{rt.Version} ({rt.Path})"));
            if (CudaDevices.DriverVersion() is { } driver) facts.Add(("CUDA driver supports", driver));
            foreach (var device in CudaDevices.List())
                facts.Add(($"cuda:{device.Index}", device.Description));
        }
        facts.AddRange(
        [
            ("default device", DefaultDevice.ToString()),
            ("intra-op threads", torch.get_num_threads().ToString()),
            ("inter-op threads", torch.get_num_interop_threads().ToString()),
            ("processor count", Environment.ProcessorCount.ToString()),
            ("native library", NativeLibraryPath() ?? "(resolved by the runtime)"),
        ]);
        var native = NativeLibraryPath();
        var system = GlibcxxCompat.FindSystemLibStdCxx();
        if (native != null && system != null)
        {
            var relaxed = GlibcxxCompat.MissingVersions(native, system).Where(n => n.IsWeak).Select(n => n.Version).ToList();
            facts.Add(("GLIBCXX fix", relaxed.Count > 0 ? $"applied ({string.Join(", ", relaxed)} marked weak; {system} lacks it)"
                                                        : $"not needed ({system})"));
        }
        return facts;
    }

    /// <summary>
    /// What `opendllm doctor` says under its table: which libtorch versions are known to work with TorchSharp 0.107,
    /// and a warning when the loaded one is another release than the 2.10 it was built for.
    /// </summary>
    public static IReadOnlyList<string> Notes()
    {
        var libtorch = LibTorch;
        var notes = new List<string>
        {
            $"TorchSharp 0.107 is built for libtorch {LibTorchVersion.Built}. libtorch 2.11 (PyTorch 2.11.0+cu130) under it ran training "
            + "on an NVIDIA H200 (the issue author's run of 2026-11-28, shared/gpu/README.md); other version mixes are unverified.",
        };
        if (libtorch.IsVersionMix)
            notes.Add($"This process runs libtorch {libtorch.Build!.Version}, not {LibTorchVersion.Built}: run the GPU check "
                      + "(data-scripts/gpu-check) before trusting results.");
        if (libtorch.Build is null)
            notes.Add("The loaded libtorch's version could not be read; TorchSharp's constant is shown instead.");
        return notes;
    }
}

/// <summary>TorchSharp could not be loaded; <see cref="Exception.Message"/> names the cause and the fix.</summary>
public sealed class TorchLoadException : Exception
{
    public TorchLoadException(string message) : base(message) { }
    public TorchLoadException(string message, Exception inner) : base(message, inner) { }
}
