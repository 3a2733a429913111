using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Reads Polyglot .dib files: plain text split into cells by lines that are exactly <c>#!kernel</c> (csharp, fsharp,
/// markdown, pwsh, … and the names and aliases listed in the file's kernelInfo); an optional <c>#!meta</c> section holds
/// one JSON object (kept as <c>metadata.polyglot_notebook</c>). Other <c>#!</c> lines (e.g. <c>#!time</c>) stay in their
/// cell. Blank cells are dropped; a C# cell whose first line is <c>// parameters</c> gets the "parameters" tag.
/// </summary>
public static class DibReader
{
    static readonly string[] KnownKernels =
    [
        "csharp", "c#", "fsharp", "f#", "markdown", "md", "pwsh", "powershell", "javascript", "js", "html", "sql", "kql",
        "mermaid", "value", "http", "python", "r", "meta",
    ];

    public static Notebook Read(string path) => Parse(File.ReadAllText(path), path);

    public static Notebook Parse(string text, string sourceName)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        var meta = ReadMeta(lines, sourceName);
        var kernels = new HashSet<string>(KnownKernels, StringComparer.OrdinalIgnoreCase);
        foreach (var item in IpynbReader.At(meta, "kernelInfo", "items") as JsonArray ?? [])
        {
            if (IpynbReader.At(item, "name") is JsonValue name && name.TryGetValue<string>(out var n)) kernels.Add(n);
            foreach (var alias in IpynbReader.At(item, "aliases") as JsonArray ?? [])
                if (alias is JsonValue a && a.TryGetValue<string>(out var s)) kernels.Add(s.TrimStart('#', '!'));
        }
        var defaultKernel = IpynbReader.At(meta, "kernelInfo", "defaultKernelName") is JsonValue d && d.TryGetValue<string>(out var dk)
            ? NotebookLanguages.Normalize(dk) : NotebookLanguages.CSharp;

        var notebook = new Notebook { SourcePath = sourceName, DefaultLanguage = defaultKernel };
        if (meta is not null) notebook.Metadata["polyglot_notebook"] = meta;
        string kernel = defaultKernel;
        var body = new StringBuilder();
        foreach (var line in lines)
        {
            var trimmed = line.TrimEnd();
            if (trimmed.StartsWith("#!", StringComparison.Ordinal) && kernels.Contains(trimmed[2..]))
            {
                AddCell(notebook, kernel, body.ToString());
                kernel = NotebookLanguages.Normalize(trimmed[2..]);
                body.Clear();
            }
            else body.Append(line).Append('\n');
        }
        AddCell(notebook, kernel, body.ToString());
        CellIds.Fill(notebook);
        return notebook;
    }

    static void AddCell(Notebook notebook, string kernel, string body)
    {
        if (kernel == "meta") return;
        var source = body.Trim('\n', '\r');
        if (string.IsNullOrWhiteSpace(source)) return;
        var isMarkdown = kernel == NotebookLanguages.Markdown;
        var cell = new NotebookCell(isMarkdown ? CellKind.Markdown : CellKind.Code, kernel, source);
        if (!isMarkdown && source.Split('\n')[0].Trim() == "// parameters") cell.Tags.Add("parameters");
        notebook.Cells.Add(cell);
    }

    /// <summary>The JSON object of the <c>#!meta</c> section, or null when there is none.</summary>
    static JsonObject? ReadMeta(string[] lines, string sourceName)
    {
        var start = Array.FindIndex(lines, l => l.TrimEnd() == "#!meta");
        if (start < 0) return null;
        var json = new StringBuilder();
        int end = start + 1;
        for (; end < lines.Length && !lines[end].StartsWith("#!", StringComparison.Ordinal); end++) json.Append(lines[end]).Append('\n');
        try
        {
            return JsonNode.Parse(json.ToString()) as JsonObject
                   ?? throw new InvalidDataException($"{sourceName}: line {start + 1}: the #!meta section must hold a JSON object");
        }
        catch (JsonException e)
        {
            var line = start + 2 + (int)(e.LineNumber ?? 0);
            throw new InvalidDataException($"{sourceName}: line {line}: the #!meta section is not valid JSON: {e.Message}", e);
        }
    }
}
