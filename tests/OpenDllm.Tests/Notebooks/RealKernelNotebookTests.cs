using System.Text.Json.Nodes;

namespace OpenDllm.Tests.Notebooks;

/// <summary>
/// The real .NET Interactive kernel as the oracle for the project's runner: every notebook in <c>notebooks/</c> runs
/// unchanged in an in-process <see cref="RealKernelHost"/> (CI sizes from <c>notebooks/ci-parameters.txt</c>, injected
/// after the parameters cell) without a failed command, then through <c>opendllm notebook run</c> with the same
/// parameters; where OpenDllm's own HTML renderers drew something (tensors, trajectories: <c>class="odl-…"</c>), the
/// two must be byte-identical, cell by cell, and a cell with a Plotly chart in one has one in the other.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class RealKernelNotebookTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-realkernel-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>notebooks/ci-parameters.txt: NAME followed by name=value overrides, one notebook a line.</summary>
    public static Dictionary<string, Dictionary<string, string>> CiParameters()
    {
        var table = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(TestPaths.RepoRoot, "notebooks", "ci-parameters.txt")))
        {
            if (line.TrimStart().StartsWith('#') || line.Trim().Length == 0) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            table[parts[0]] = parts.Skip(1).Select(p => p.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        }
        return table;
    }

    public static TheoryData<string> Notebooks() =>
        new(Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "notebooks"), "*.ipynb").Select(Path.GetFileNameWithoutExtension).Order()!);

    [Fact]
    public void EveryNotebookHasCiParameters()
    {
        var table = CiParameters();
        var names = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "notebooks"), "*.ipynb").Select(Path.GetFileNameWithoutExtension).ToList();
        Assert.NotEmpty(names);
        Assert.All(names, n => Assert.True(table.ContainsKey(n!), $"notebooks/ci-parameters.txt lacks {n}"));
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public async Task RunsInTheRealKernelAndRendersLikeTheProjectsRunner(string name)
    {
        var notebook = Path.Combine(TestPaths.RepoRoot, "notebooks", name + ".ipynb");
        var overrides = CiParameters()[name];

        List<List<KernelOutput>> kernelCells;
        using (var host = await RealKernelHost.StartAsync())
            kernelCells = await host.RunNotebookAsync(notebook, overrides);

        // CI has just run every notebook through `opendllm notebook run` with the same CI parameters (.ci/notebooks.sh);
        // its executed copies are reused when OPENDLLM_RUNNER_NOTEBOOKS names them, otherwise the runner runs here.
        var output = Environment.GetEnvironmentVariable("OPENDLLM_RUNNER_NOTEBOOKS") is { Length: > 0 } executed
                     && File.Exists(Path.Combine(executed, name + ".ipynb"))
            ? Path.Combine(executed, name + ".ipynb")
            : RunTheRunner(notebook, name, overrides);
        var runnerCells = JsonNode.Parse(File.ReadAllText(output))!["cells"]!.AsArray()
            .Where(c => (string?)c!["cell_type"] == "code" && !(c["metadata"]?["tags"]?.AsArray().Any(t => (string?)t == "injected-parameters") ?? false))
            .Select(c => c!["outputs"]!.AsArray().Select(o => Html(o!["data"]?["text/html"])).OfType<string>().ToList())
            .ToList();

        Assert.Equal(runnerCells.Count, kernelCells.Count);
        for (var i = 0; i < runnerCells.Count; i++)
        {
            var kernelHtml = kernelCells[i].Select(o => o.Data.GetValueOrDefault("text/html")).OfType<string>().ToList();
            AssertSameRenderings(name, i, Ours(runnerCells[i]), Ours(kernelHtml));
            Assert.Equal(runnerCells[i].Any(IsPlotly), kernelHtml.Any(IsPlotly));
        }
    }

    /// <summary>Equal renderings, or a failure that shows where the first pair differs (both sides, 120 characters around it).</summary>
    static void AssertSameRenderings(string notebook, int cell, List<string> runner, List<string> kernel)
    {
        Assert.True(runner.Count == kernel.Count, $"{notebook}, code cell {cell}: the runner drew {runner.Count} OpenDllm renderings, the kernel {kernel.Count}");
        for (int k = 0; k < runner.Count; k++)
        {
            if (runner[k] == kernel[k]) continue;
            int at = 0;
            while (at < Math.Min(runner[k].Length, kernel[k].Length) && runner[k][at] == kernel[k][at]) at++;
            string Around(string h) => h.Substring(Math.Max(0, at - 60), Math.Min(h.Length, at + 60) - Math.Max(0, at - 60));
            Assert.Fail($"{notebook}, code cell {cell}, rendering {k}: differs at character {at} of {runner[k].Length}/{kernel[k].Length}\n"
                        + $"  runner: …{Around(runner[k])}…\n  kernel: …{Around(kernel[k])}…");
        }
    }

    string RunTheRunner(string notebook, string name, Dictionary<string, string> overrides)
    {
        var output = Path.Combine(_dir, name + ".ipynb");
        var args = new List<string> { "notebook", "run", notebook, "--output", output, "--timeout-seconds", "600" };
        foreach (var (k, v) in overrides) args.AddRange(["--param", $"{k}={v}"]);
        var (code, text, err) = OpenDllm.Tests.Cli.CliCapture.Run([.. args]);
        Assert.True(code == 0, text + err);
        return output;
    }

    /// <summary>
    /// OpenDllm's own renderings, with their element ids (<c>odl-traj-7-3fa2c1</c>: a per-process counter and a random
    /// suffix, unique per page by design) replaced by their order of appearance, so equal renderings compare equal.
    /// </summary>
    static List<string> Ours(IEnumerable<string> html) => html.Where(h => h.Contains("class=\"odl-", StringComparison.Ordinal)).Select(StableIds).ToList();

    static string StableIds(string html)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        return System.Text.RegularExpressions.Regex.Replace(html, @"\bodl-([a-z][a-z-]*)-\d+-[0-9a-f]{6}\b",
            m => seen.TryGetValue(m.Value, out var id) ? id : seen[m.Value] = $"odl-{m.Groups[1].Value}-#{seen.Count + 1}");
    }

    static bool IsPlotly(string html) => html.Contains("Plotly.newPlot", StringComparison.Ordinal);

    static string? Html(JsonNode? node) => node switch
    {
        null => null,
        JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
        _ => (string?)node,
    };
}
