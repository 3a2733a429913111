using System.Reflection;
using System.Runtime.InteropServices;
using OpenDllm.Build;
using TorchSharp;

namespace OpenDllm.Runtime;

/// <summary>
/// Loads TorchSharp once, and when that fails says the real cause in one line (PLATFORM.md §1: TorchSharp
/// reports a missing GLIBCXX version as "doesn't contain a reference to libtorch-cpu-linux-x64").
/// Also picks the default device: CUDA when present, else CPU.
/// </summary>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static bool _loaded;

    /// <summary>Initialises TorchSharp or throws <see cref="TorchLoadException"/> with the cause and the fix.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
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
                throw new ArgumentException($"{option} {spec}: CUDA is not available to this libtorch ({torch.__version__}); "
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

    /// <summary>The folder holding libLibTorchSharp.so for this process, if found.</summary>
    public static string? NativeLibraryPath()
    {
        var baseDir = AppContext.BaseDirectory;
        foreach (var candidate in new[]
                 {
                     Path.Combine(baseDir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
                     Path.Combine(baseDir, "libLibTorchSharp.so"),
                 })
            if (File.Exists(candidate)) return candidate;
        return null;
    }

    /// <summary>One line: what went wrong loading TorchSharp and how to fix it.</summary>
    internal static string Diagnose(Exception e)
    {
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
        return $"TorchSharp failed to load from {native}: {Innermost(e).Message.Split('\n')[0]} "
               + "(set OPENDLLM_TORCH_TRACE=1 for TorchSharp's loader trace, or diagnose with LD_DEBUG=files,versions)";
    }

    static Exception Innermost(Exception e)
    {
        while (e.InnerException != null) e = e.InnerException;
        return e;
    }

    /// <summary>Runtime facts for `opendllm doctor`.</summary>
    public static IReadOnlyList<(string Name, string Value)> Facts()
    {
        EnsureLoaded();
        var torchSharp = typeof(torch).Assembly;
        var facts = new List<(string, string)>
        {
            ("TorchSharp", torchSharp.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0]
                           ?? torchSharp.GetName().Version?.ToString() ?? "?"),
            ("libtorch", torch.__version__),
            (".NET", RuntimeInformation.FrameworkDescription),
            ("OS", RuntimeInformation.OSDescription),
            ("CUDA available", torch.cuda.is_available() ? $"yes ({torch.cuda.device_count()} device(s))" : "no"),
            ("default device", DefaultDevice.ToString()),
            ("intra-op threads", torch.get_num_threads().ToString()),
            ("inter-op threads", torch.get_num_interop_threads().ToString()),
            ("processor count", Environment.ProcessorCount.ToString()),
            ("native library", NativeLibraryPath() ?? "(resolved by the runtime)"),
        };
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
}

/// <summary>TorchSharp could not be loaded; <see cref="Exception.Message"/> names the cause and the fix.</summary>
public sealed class TorchLoadException(string message, Exception inner) : Exception(message, inner);
