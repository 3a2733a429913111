using System.Reflection;
using System.Runtime.Loader;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.Directives;
using OpenDllm.Interactive.Notebooks;
using OpenDllm.Runtime;

namespace OpenDllm.Interactive;

/// <summary>
/// OpenDllm's .NET Interactive kernel extension. The kernel runs it when a notebook does
/// <c>#r "nuget: OpenDllm.Interactive"</c> (the package carries this assembly under <c>interactive-extensions/dotnet/</c>,
/// where the kernel's loader looks). It:
/// <list type="bullet">
/// <item>loads TorchSharp's natives by full path (<see cref="TorchNatives.Load"/>), so the kernel process gets libtorch
/// 2.10 rather than a system libtorch, with the GLIBCXX requirement relaxed on a private copy;</item>
/// <item>lets Plotly.NET 6 (built against FSharp.Core 10.1) run on the FSharp.Core 10.0 the kernel tools ship
/// (<see cref="UseHostFSharpCore"/>);</item>
/// <item>registers OpenDllm's formatters (<see cref="NotebookFormatters.Register"/>: <c>text/html</c> and <c>text/plain</c>);</item>
/// <item>adds the usings that <c>opendllm notebook run</c> gives every cell (<see cref="Usings"/>);</item>
/// <item>adds <c>#!opendllm-doctor</c> (what was loaded, from where) and applies parameter overrides from
/// <see cref="ParametersVariable"/> to a notebook's parameters cell, as <c>opendllm notebook run --param</c> does.</item>
/// </list>
/// </summary>
public sealed class KernelExtension : IKernelExtension
{
    /// <summary>
    /// Overrides for a notebook's parameters, <c>name=value</c> separated by <c>;</c> or new lines. A host that cannot
    /// inject papermill parameters (dotnet-repl) runs a notebook at another size by setting it: CI does. After the first
    /// C# submission that declares one of the names at top level (the parameters cell), the extension runs the
    /// assignments, exactly like the cell <c>opendllm notebook run</c> injects.
    /// </summary>
    public const string ParametersVariable = "OPENDLLM_NOTEBOOK_PARAMETERS";

    /// <summary>
    /// The namespaces every C# cell gets, the same as in <c>opendllm notebook run</c>: System, System.IO, System.Linq,
    /// System.Text, System.Collections.Generic, System.Threading.Tasks, TorchSharp, <c>static TorchSharp.torch</c> and
    /// all of OpenDllm's.
    /// </summary>
    public static IReadOnlyList<string> Usings { get; } = BuildUsings();

    /// <summary>What the extension loaded, for <c>#!opendllm-doctor</c>; null before it ran.</summary>
    public static TorchNativesInfo? Natives { get; private set; }

    /// <inheritdoc />
    public async Task OnLoadAsync(Kernel kernel)
    {
        Natives = TorchNatives.Load();
        if (Interlocked.Exchange(ref _fsharpRedirect, 1) == 0)
        {
            AssemblyLoadContext.Default.Resolving += UseHostFSharpCore;
            // The kernel loads a package's assemblies in its own load contexts too: this event is their last resort.
            AppDomain.CurrentDomain.AssemblyResolve += (_, args) => UseHostFSharpCore(AssemblyLoadContext.Default, new AssemblyName(args.Name));
        }
        NotebookFormatters.Register();
        var csharp = kernel.FindKernelByName("csharp") ?? (kernel.Name == "csharp" ? kernel : null);
        if (csharp is not null)
        {
            var usings = string.Join("\n", Usings.Select(u => $"using {u};"));
            var result = await csharp.SendAsync(new SubmitCode(usings, "csharp")).ConfigureAwait(false);
            if (result.Events.OfType<Microsoft.DotNet.Interactive.Events.CommandFailed>().FirstOrDefault() is { } failed)
                throw new InvalidOperationException($"OpenDllm: adding the usings failed: {failed.Message}");
            if (ParseOverrides(Environment.GetEnvironmentVariable(ParametersVariable)) is { Count: > 0 } overrides)
                csharp.AddMiddleware(ParametersMiddleware(csharp, overrides));
        }
        var doctor = new KernelActionDirective("#!opendllm-doctor")
        {
            Description = "Shows the libtorch and TorchSharp native library OpenDllm loaded, TorchSharp's threads and the default device",
        };
        kernel.AddDirective(doctor, (_, context) =>
        {
            KernelInvocationContextExtensions.Display(context, Doctor(), "text/plain");
            return Task.CompletedTask;
        });
    }

    static int _fsharpRedirect;

    /// <summary>
    /// A binding redirect for FSharp.Core within one major version. Plotly.NET 6 and its DynamicObj 8 reference
    /// FSharp.Core 10.1.0.0 (DynamicObj 8 needs the 10.1.300 package or newer, so the package cannot be pinned down to
    /// 10.0.x); dotnet-interactive and dotnet-repl carry FSharp.Core 10.0.0.0 in their own folder, which the default load
    /// context will not exchange, so every chart failed with "Could not load FSharp.Core, Version=10.1.0.0". When the
    /// default context cannot satisfy a FSharp.Core 10.x request, this answers with the host's FSharp.Core of the same major
    /// version. Hosts that ship 10.1 (OpenDllm's own runner and tests) never reach it.
    /// </summary>
    internal static Assembly? UseHostFSharpCore(AssemblyLoadContext context, AssemblyName name)
    {
        if (name.Name != "FSharp.Core" || name.Version is null) return null;
        Assembly host;
        try { host = context.LoadFromAssemblyName(new AssemblyName("FSharp.Core")); }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException) { return null; }
        return host.GetName().Version?.Major == name.Version.Major ? host : null;
    }

    /// <summary>The doctor's report: one line per fact.</summary>
    public static string Doctor()
    {
        var lines = new List<string>
        {
            $"OpenDllm.Interactive {typeof(KernelExtension).Assembly.GetName().Version}",
            Natives is { } n ? n.ToString() : "natives: not loaded by the extension (not Linux, or the extension did not run)",
        };
        try
        {
            TorchRuntime.EnsureLoaded();
            lines.Add($"libtorch_cpu mapped: {LoadedLibraries.FindOne("libtorch_cpu.so") ?? "?"}");
            lines.Add($"threads: {TorchSharp.torch.get_num_threads()}; default device: {TorchRuntime.DefaultDevice}");
        }
        catch (TorchLoadException e) { lines.Add($"TorchSharp did not load: {e.Message}"); }
        lines.Add($"parameter overrides ({ParametersVariable}): "
                  + (ParseOverrides(Environment.GetEnvironmentVariable(ParametersVariable)) is { Count: > 0 } o
                      ? string.Join(", ", o.Select(kv => $"{kv.Key}={kv.Value}")) : "none"));
        return string.Join("\n", lines);
    }

    /// <summary><c>a=1;b=x</c> (or one per line) → {a: 1, b: x}; blank or null → empty. A part without '=' is an error.</summary>
    public static IReadOnlyDictionary<string, string> ParseOverrides(string? text)
    {
        var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(text)) return overrides;
        foreach (var part in text.Split([';', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"{ParametersVariable}: \"{part}\" is not name=value");
            overrides[part[..eq].Trim()] = part[(eq + 1)..].Trim();
        }
        return overrides;
    }

    /// <summary>
    /// Runs the overrides as assignments right after the first submission that declares one of them (the parameters
    /// cell), once; a name that cell does not declare fails it, as <c>opendllm notebook run --param</c> does.
    /// </summary>
    static KernelCommandPipelineMiddleware ParametersMiddleware(Kernel csharp, IReadOnlyDictionary<string, string> overrides)
    {
        var applied = 0;
        return async (command, context, next) =>
        {
            await next(command, context).ConfigureAwait(false);
            if (command is not SubmitCode submit || Volatile.Read(ref applied) == 1) return;
            var declared = NotebookParameters.DeclaredNames(submit.Code);
            if (!declared.Any(overrides.ContainsKey) || Interlocked.Exchange(ref applied, 1) == 1) return;
            NotebookParameters.Validate(overrides, declared, "parameters cell");
            var result = await csharp.SendAsync(new SubmitCode(NotebookParameters.InjectedSource(overrides, _ => null), "csharp")).ConfigureAwait(false);
            if (result.Events.OfType<Microsoft.DotNet.Interactive.Events.CommandFailed>().FirstOrDefault() is { } failed)
                throw new InvalidOperationException($"{ParametersVariable}: {failed.Message}");
        };
    }

    static List<string> BuildUsings()
    {
        var namespaces = new[] { typeof(TorchSharp.torch).Assembly, typeof(OpenDllm.IO.AtomicFile).Assembly, typeof(KernelExtension).Assembly }
            .Where(a => a.GetName().Name?.StartsWith("OpenDllm", StringComparison.Ordinal) == true)
            .SelectMany(ExportedTypes)
            .Select(t => t.Namespace)
            .Where(n => n is not null && n.StartsWith("OpenDllm", StringComparison.Ordinal))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .Cast<string>();
        return ["System", "System.IO", "System.Linq", "System.Text", "System.Collections.Generic", "System.Threading.Tasks",
                "TorchSharp", "static TorchSharp.torch", .. namespaces];
    }

    static IEnumerable<Type> ExportedTypes(Assembly assembly)
    {
        try { return assembly.GetExportedTypes(); }
        catch (ReflectionTypeLoadException e) { return e.Types.OfType<Type>(); }
    }
}
