using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;
using OpenDllm.Interactive;
using OpenDllm.Interactive.Notebooks;

namespace OpenDllm.Tests.Notebooks;

/// <summary>One output of a cell run in the real kernel: its MIME bundle (or an error message).</summary>
public sealed record KernelOutput(string Kind, IReadOnlyDictionary<string, string> Data);

/// <summary>
/// The real .NET Interactive kernel in this process: a <see cref="CSharpKernel"/> inside a <see cref="CompositeKernel"/>,
/// with OpenDllm's <see cref="KernelExtension"/> loaded. A cell's <c>#r "nuget: X"</c> for a package this test process
/// carries (OpenDllm.Interactive, FsCheck, …) becomes references to the carried assemblies, as
/// <c>opendllm notebook run</c> does; any other package fails the cell (no download in a test).
/// </summary>
public sealed class RealKernelHost : IDisposable
{
    static readonly Regex NugetLine = new("""^#r\s+"nuget:\s*(?<id>[^,"\s]+)[^"]*"\s*$""", RegexOptions.Multiline);
    readonly CSharpKernel _csharp;

    RealKernelHost(CompositeKernel kernel, CSharpKernel csharp) { Kernel = kernel; _csharp = csharp; }

    /// <summary>The composite kernel (default: C#).</summary>
    public CompositeKernel Kernel { get; }

    /// <summary>Starts a kernel; <paramref name="extension"/> (default: OpenDllm's) is loaded as the tools load one.</summary>
    public static async Task<RealKernelHost> StartAsync(IKernelExtension? extension = null)
    {
        var csharp = new CSharpKernel().UseKernelHelpers();
        var composite = new CompositeKernel { csharp };
        composite.DefaultKernelName = csharp.Name;
        var host = new RealKernelHost(composite, csharp);
        host.Carry("OpenDllm.Interactive");
        await (extension ?? new KernelExtension()).OnLoadAsync(composite);
        return host;
    }

    void Carry(string id)
    {
        if (!HostPackages.Current.Carries(id, out var carried, out _))
            throw new InvalidOperationException($"the test host does not carry package {id}; reference it from OpenDllm.Tests");
        _csharp.AddAssemblyReferences(HostPackages.Current.AssemblyClosure([carried]));
    }

    /// <summary>Runs one C# cell; returns its outputs and the failure message (null when it succeeded).</summary>
    public async Task<(List<KernelOutput> Outputs, string? Failure)> RunAsync(string code)
    {
        foreach (Match m in NugetLine.Matches(code)) Carry(m.Groups["id"].Value);
        code = NugetLine.Replace(code, "");
        var result = await Kernel.SendAsync(new SubmitCode(code, _csharp.Name));
        var outputs = new List<KernelOutput>();
        string? failure = null;
        foreach (var e in result.Events)
        {
            switch (e)
            {
                case StandardOutputValueProduced o: outputs.Add(new KernelOutput("stdout", Bundle(o.FormattedValues))); break;
                case ReturnValueProduced r: outputs.Add(new KernelOutput("execute_result", Bundle(r.FormattedValues))); break;
                case DisplayedValueProduced d: outputs.Add(new KernelOutput("display_data", Bundle(d.FormattedValues))); break;
                case CommandFailed f: failure = f.Message; break;
            }
        }
        return (outputs, failure);
    }

    static Dictionary<string, string> Bundle(IEnumerable<FormattedValue> values) =>
        values.GroupBy(v => v.MimeType).ToDictionary(g => g.Key, g => g.Last().Value);

    /// <summary>
    /// Runs a notebook file's C# cells in order, with <paramref name="overrides"/> assigned right after the cell tagged
    /// "parameters" (papermill's way, as <c>opendllm notebook run --param</c> does). Returns the outputs per code cell,
    /// in file order; throws at the first cell that fails, naming it.
    /// </summary>
    public async Task<List<List<KernelOutput>>> RunNotebookAsync(string path, IReadOnlyDictionary<string, string> overrides)
    {
        var cells = JsonNode.Parse(File.ReadAllText(path))!["cells"]!.AsArray();
        var all = new List<List<KernelOutput>>();
        var index = 0;
        foreach (var cell in cells)
        {
            index++;
            if ((string?)cell!["cell_type"] != "code") continue;
            var source = cell["source"] is JsonArray lines ? string.Concat(lines.Select(l => (string?)l)) : (string?)cell["source"] ?? "";
            var (outputs, failure) = await RunAsync(source);
            if (failure is not null) throw new Xunit.Sdk.XunitException($"{Path.GetFileName(path)} cell {index} failed in the real kernel: {failure}");
            all.Add(outputs);
            var tags = cell["metadata"]?["tags"]?.AsArray().Select(t => (string?)t).ToList() ?? [];
            if (tags.Contains(NotebookParameters.Tag) && overrides.Count > 0)
            {
                NotebookParameters.Validate(overrides, NotebookParameters.DeclaredNames(source), $"{Path.GetFileName(path)} cell {index}");
                var (_, injectedFailure) = await RunAsync(NotebookParameters.InjectedSource(overrides, _ => null));
                if (injectedFailure is not null) throw new Xunit.Sdk.XunitException($"{Path.GetFileName(path)}: injected parameters failed: {injectedFailure}");
            }
        }
        return all;
    }

    public void Dispose() => Kernel.Dispose();
}

/// <summary>
/// Tests that run whole notebooks in the in-process kernel. They run alone, after every parallel collection: they capture
/// the console (as the "Console" collection does), and a Roslyn-compiling kernel allocates heavily enough to make the GCs
/// that expose TorchSharp's implicit-Scalar finalizer race (see the closing notes) far more frequent in training tests
/// running beside them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RealKernelCollection
{
    public const string Name = "RealKernel";
}
