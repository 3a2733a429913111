using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// One C# scripting session, as the .NET Interactive C# kernel keeps it: the first cell runs with
/// <see cref="CSharpScript.RunAsync(string, ScriptOptions, object, Type, CancellationToken)"/> and every later one with
/// <see cref="ScriptState.ContinueWithAsync(string, ScriptOptions, CancellationToken)"/>, so variables, usings, types and
/// references carry over. It references the assemblies loaded in the process plus OpenDllm.Core, OpenDllm.Interactive
/// and TorchSharp with their dependencies (so scripts share the host's TorchSharp and its natives), and imports System,
/// LINQ, collections, TorchSharp, <c>static TorchSharp.torch</c> and every OpenDllm namespace.
/// </summary>
internal sealed class ScriptSession
{
    static readonly ConcurrentDictionary<string, MetadataReference> ReferenceCache = new();
    static readonly string[] BaseImports =
    [
        "System", "System.IO", "System.Linq", "System.Text", "System.Collections.Generic", "System.Threading.Tasks",
        "TorchSharp", "TorchSharp.torch",
    ];

    readonly NotebookGlobals _globals;
    readonly HashSet<string> _referenced = new(StringComparer.OrdinalIgnoreCase);
    ScriptOptions _options;
    ScriptState<object>? _state;

    public ScriptSession(NotebookGlobals globals, HostPackages host, string baseDirectory)
    {
        _globals = globals;
        var assemblies = new[] { typeof(TorchSharp.torch).Assembly, typeof(OpenDllm.IO.AtomicFile).Assembly, typeof(ScriptSession).Assembly };
        var paths = assemblies.Select(a => a.Location)
            .Concat(host.AssemblyClosure(["OpenDllm.Core", "OpenDllm.Interactive", "TorchSharp"]))
            .Concat(HostPackages.LoadedAssemblies().Select(a => a.Location));
        _options = ScriptOptions.Default
            .WithLanguageVersion(LanguageVersion.Latest)
            .WithImports(BaseImports.Concat(OpenDllmNamespaces(assemblies)))
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(baseDirectory))
            .WithSourceResolver(ScriptSourceResolver.Default.WithBaseDirectory(baseDirectory))
            .WithEmitDebugInformation(true)
            .WithFileEncoding(Encoding.UTF8);
        AddReferences(paths);
    }

    /// <summary>The value of the last expression of the last cell (null when it ended with a statement).</summary>
    public object? ReturnValue => _state?.ReturnValue;

    /// <summary>The type a variable was declared with in an earlier cell, or null when there is none.</summary>
    public Type? VariableType(string name) => _state?.GetVariable(name)?.Type;

    /// <summary>Adds assembly references for later cells (each path once; the first of a simple name wins).</summary>
    public void AddReferences(IEnumerable<string> paths)
    {
        var added = new List<MetadataReference>();
        foreach (var path in paths)
        {
            if (string.IsNullOrEmpty(path) || !_referenced.Add(Path.GetFileNameWithoutExtension(path))) continue;
            added.Add(ReferenceCache.GetOrAdd(path, p => MetadataReference.CreateFromFile(p)));
        }
        if (added.Count > 0) _options = _options.AddReferences(added);
    }

    /// <summary>Compiles and runs one cell; <paramref name="name"/> (e.g. "cell3") appears in compiler messages and stack traces.</summary>
    public async Task RunAsync(string code, string name, CancellationToken cancellationToken)
    {
        var options = _options.WithFilePath(name);
        _state = _state is null
            ? await CSharpScript.RunAsync(code, options, _globals, typeof(NotebookGlobals), cancellationToken).ConfigureAwait(false)
            : await _state.ContinueWithAsync(code, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Compiles and runs a throwaway script with this session's options (not part of the session), so that the compiler is
    /// loaded and its code compiled before the first cell: a cell's time (and timeout) is then the cell's own.
    /// </summary>
    public Task WarmUpAsync() => CSharpScript.RunAsync(WarmUpCode, _options.WithFilePath("warm-up"), _globals, typeof(NotebookGlobals));

    /// <summary>Common constructs (each kind of syntax makes the compiler run code it has not run yet).</summary>
    const string WarmUpCode = """
        record Point(int X, int Y);
        class Box { public double Value { get; set; } }
        static int Depth(int n) => n <= 0 ? 0 : Depth(n - 1) + 1;
        var items = new List<int> { 1, 2, 3 };
        var total = 0L;
        foreach (var item in items.Where(v => v > 1).Select(v => v * 2)) total += item;
        for (int i = 0; i < 3; i++) total += Depth(i);
        var text = $"{total:0.00} {new Point(1, 2)} {new Box { Value = 0.5 }.Value}";
        var map = new Dictionary<string, float[]> { ["a"] = new[] { 1f, 2f } };
        try { if (text.Length < 0) throw new InvalidOperationException(text); } catch (Exception) { }
        await Task.Yield();
        (text, map.Count)
        """;

    static IEnumerable<string> OpenDllmNamespaces(IEnumerable<Assembly> assemblies) =>
        assemblies.Where(a => a.GetName().Name?.StartsWith("OpenDllm", StringComparison.Ordinal) == true)
            .SelectMany(a => a.GetExportedTypes()).Select(t => t.Namespace)
            .Where(n => n is not null && n.StartsWith("OpenDllm", StringComparison.Ordinal)).Distinct().Order()!;
}
