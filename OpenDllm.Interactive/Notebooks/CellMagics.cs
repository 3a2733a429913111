using System.Text;
using System.Text.RegularExpressions;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// What the .NET Interactive magics in a cell ask for, and the C# left for Roslyn. Handled: <c>#!csharp</c> (ignored),
/// <c>#!fsharp</c>/<c>#!markdown</c>/other kernels on the first line (the cell's language), <c>#!time</c>,
/// <c>#r "nuget: Id[, version]"</c>, <c>#r "path.dll"</c> and <c>#i "source"</c>. Every magic line is blanked rather than
/// removed, so compiler messages keep the cell's line numbers.
/// </summary>
public sealed partial record CellMagics
{
    /// <summary>The cell's code with magic lines blanked.</summary>
    public string Code { get; init; } = "";

    /// <summary>The language a first-line <c>#!kernel</c> names, or null.</summary>
    public string? Language { get; init; }

    public IReadOnlyList<(string Id, string? Version)> NugetReferences { get; init; } = [];
    public IReadOnlyList<string> AssemblyReferences { get; init; } = [];
    public IReadOnlyList<string> Sources { get; init; } = [];
    public bool Time { get; init; }

    /// <summary>Why the cell cannot run headless (an unsupported magic), or null.</summary>
    public string? Unsupported { get; init; }

    [GeneratedRegex("""^#r\s+"nuget:\s*(?<id>[^,"\s]+)\s*(,\s*(?<version>[^"\s]*)\s*)?"\s*$""", RegexOptions.IgnoreCase)]
    private static partial Regex NugetReference();

    [GeneratedRegex("""^#r\s+"(?<path>[^"]+)"\s*$""")]
    private static partial Regex PathReference();

    [GeneratedRegex("""^#i\s+"(?<source>[^"]*)"\s*$""")]
    private static partial Regex Source();

    public static CellMagics Parse(string source)
    {
        var lines = source.ReplaceLineEndings("\n").Split('\n');
        var code = new StringBuilder();
        var nuget = new List<(string, string?)>();
        var paths = new List<string>();
        var sources = new List<string>();
        string? language = null, unsupported = null;
        bool time = false, sawCode = false;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            bool magic = true;
            if (line.StartsWith("#!", StringComparison.Ordinal))
            {
                var name = line[2..].Trim();
                var kernel = NotebookLanguages.Normalize(name);
                if (name == "time") time = true;
                else if (IsKernelName(kernel) && !sawCode && language is null) language = kernel;
                else if (kernel == NotebookLanguages.CSharp && language is null or NotebookLanguages.CSharp) { }   // already C#
                else if (IsKernelName(kernel))
                    unsupported ??= $"line {i + 1}: switching to #!{name} inside a cell is not supported by the headless runner; put it in its own cell";
                else unsupported ??= $"line {i + 1}: the magic command #!{name} is not supported by the headless runner";
            }
            else if (NugetReference().Match(line) is { Success: true } n)
                nuget.Add((n.Groups["id"].Value, n.Groups["version"].Success && n.Groups["version"].Value.Length > 0 ? n.Groups["version"].Value : null));
            else if (PathReference().Match(line) is { Success: true } p) paths.Add(p.Groups["path"].Value);
            else if (Source().Match(line) is { Success: true } s) sources.Add(s.Groups["source"].Value);
            else magic = false;
            if (!magic && line.Length > 0) sawCode = true;
            code.Append(magic ? "" : lines[i]);
            if (i < lines.Length - 1) code.Append('\n');
        }
        return new CellMagics
        {
            Code = code.ToString(), Language = language, NugetReferences = nuget, AssemblyReferences = paths, Sources = sources,
            Time = time, Unsupported = unsupported,
        };
    }

    static bool IsKernelName(string kernel) => kernel is NotebookLanguages.CSharp or NotebookLanguages.FSharp or NotebookLanguages.Markdown
        or "pwsh" or "powershell" or "javascript" or "js" or "html" or "sql" or "kql" or "mermaid" or "value" or "http" or "python";
}
