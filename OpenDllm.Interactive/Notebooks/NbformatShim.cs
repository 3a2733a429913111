using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Documents;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// What <c>Microsoft.DotNet.Interactive.Documents</c> 1.0.0-beta.26120.1 loses or gets wrong, put back around its reader
/// and writer (each item is pinned by a test in <c>NotebookPackageLossTests</c>, which fails once the package is fixed):
/// <list type="bullet">
/// <item>reading .ipynb: a raw cell becomes a code cell (and would be run); an unknown <c>cell_type</c> or an nbformat 3 file
/// is read without a word (as a code cell, as an empty notebook), so is a cell whose source is not text (a number is run
/// as code); malformed JSON is reported without the file;</item>
/// <item>writing .ipynb: an application/json (or */*+json) output makes the writer throw; cells without ids are written
/// without ids under <c>nbformat_minor</c> 5, which the nbformat 4.5 schema forbids; a notebook read from .dib gets no kernelspec,
/// so Jupyter cannot pick a kernel; cell metadata keys are not sorted and the file lacks its final newline (Jupyter's layout
/// has both, so an unchanged notebook would be rewritten);</item>
/// <item>reading .dib without a <c>#!meta</c> section: only C# and markdown are known, so <c>#!fsharp</c> (and a first
/// <c>#!csharp</c> line) stay inside the previous cell.</item>
/// </list>
/// </summary>
internal static class NbformatShim
{
    static readonly JsonWriterOptions JupyterLayout = new()
    {
        Indented = true, IndentSize = 1, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The kernels a .dib without <c>#!meta</c> may switch to (Polyglot's own, with their aliases).</summary>
    static readonly KernelInfoCollection DibKernels = new()
    {
        new KernelInfo("csharp", "C#", ["c#", "cs"]), new KernelInfo("fsharp", "F#", ["f#", "fs"]),
        new KernelInfo("markdown", "Markdown", ["md"]), new KernelInfo("pwsh", "PowerShell", ["powershell"]),
        new KernelInfo("javascript", "JavaScript", ["js"]), new KernelInfo("html", "HTML", []), new KernelInfo("sql", "SQL", []),
        new KernelInfo("kql", "KQL", []), new KernelInfo("mermaid", "Mermaid", []), new KernelInfo("value", "Value", []),
        new KernelInfo("http", "HTTP", []), new KernelInfo("python", "Python", []), new KernelInfo("r", "R", []),
    };

    /// <summary>The structure of an .ipynb the package does not check or keep: notebook metadata, minor version, cell types.</summary>
    public sealed record IpynbStructure(JsonObject Metadata, int NbFormatMinor, List<string> Cells);

    /// <summary>Checks what the package accepts silently; throws InvalidDataException naming the file (and cell).</summary>
    public static IpynbStructure CheckIpynb(string json, string sourceName)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, AllowDuplicateProperties = false }); }
        catch (JsonException e)
        {
            var why = e.Message.Split(" LineNumber:")[0].Split(" Path:")[0];
            var where = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            throw new InvalidDataException($"{sourceName}: not valid notebook JSON{where}: {why}", e);
        }
        if (root is not JsonObject obj) throw new InvalidDataException($"{sourceName}: a notebook must be a JSON object");
        if (obj["nbformat"] is not JsonValue v || !v.TryGetValue<int>(out var major))
            throw new InvalidDataException($"{sourceName}: \"nbformat\" must be the number 4, not {obj["nbformat"]?.ToJsonString() ?? "missing"}");
        if (major != 4) throw new InvalidDataException($"{sourceName}: nbformat {major} is not supported (expected 4)");
        if (obj["cells"] is not JsonArray cells)
            throw new InvalidDataException($"{sourceName}: " + (obj["cells"] is null ? "missing the \"cells\" array" : "\"cells\" must be an array"));
        var types = new List<string>();
        for (int i = 0; i < cells.Count; i++)
        {
            var type = cells[i] is JsonObject cell
                ? Str(cell["cell_type"]) ?? throw new InvalidDataException($"{sourceName}: cell {i + 1}: missing \"cell_type\"")
                : throw new InvalidDataException($"{sourceName}: cell {i + 1}: a cell must be a JSON object");
            if (type is not ("code" or "markdown" or "raw"))
                throw new InvalidDataException($"{sourceName}: cell {i + 1}: unknown cell_type \"{type}\"");
            var problem = !IsMultiline(cells[i]!["source"]) ? "\"source\" must be a string or an array of strings"
                : cells[i]!["outputs"] is JsonArray outputs && outputs.FirstOrDefault(o => !IsOutput(o)) is { } bad
                    ? $"an output's \"output_type\" must be execute_result, display_data, stream or error, not {bad?["output_type"]?.ToJsonString() ?? "missing"}"
                    : null;
            if (problem is not null) throw new InvalidDataException($"{sourceName}: cell {i + 1}: {problem}");
            types.Add(type);
        }
        return new IpynbStructure(obj["metadata"] as JsonObject ?? new JsonObject(),
                                  obj["nbformat_minor"] is JsonValue mv && mv.TryGetValue<int>(out var minor) ? minor : 0, types);
    }

    /// <summary>nbformat's multiline string: a string or an array of strings (a missing source reads as empty).</summary>
    static bool IsMultiline(JsonNode? node) =>
        node is null || Str(node) is not null || node is JsonArray lines && lines.All(l => Str(l) is not null);

    static bool IsOutput(JsonNode? node) => Str(node?["output_type"]) is "execute_result" or "display_data" or "stream" or "error";

    /// <summary>
    /// The language of code cells that do not name one: <c>polyglot_notebook.kernelInfo.defaultKernelName</c>, else
    /// <c>kernelspec.language</c>, else <c>language_info.name</c>, else C#.
    /// </summary>
    public static string DefaultLanguage(JsonObject metadata)
    {
        var name = Str(At(metadata, "polyglot_notebook", "kernelInfo", "defaultKernelName"))
                   ?? Str(At(metadata, "kernelspec", "language"))
                   ?? Str(At(metadata, "language_info", "name"));
        if (name is null) return NotebookLanguages.CSharp;
        var normalized = NotebookLanguages.Normalize(name);
        return normalized is "polyglot-notebook" or "dotnet-interactive" ? NotebookLanguages.CSharp : normalized;
    }

    /// <summary>Makes the cells the file calls raw raw again (the package reads them as code cells).</summary>
    public static void RestoreRawCells(Notebook notebook, IReadOnlyList<string> cellTypes)
    {
        for (int i = 0; i < cellTypes.Count; i++)
        {
            if (cellTypes[i] != "raw") continue;
            var cell = notebook.Cells[i];
            cell.Kind = CellKind.Raw;
            cell.Language = "raw";
            cell.ExecutionCount = null;
            cell.Outputs.Clear();
        }
    }

    /// <summary>Reads .dib with the file's own kernel list, or Polyglot's when it has no <c>#!meta</c>.</summary>
    public static InteractiveDocument ParseDib(string text, string sourceName)
    {
        try
        {
            var document = CodeSubmission.Parse(text);
            return document.Metadata.ContainsKey("kernelInfo") ? document : CodeSubmission.Parse(text, DibKernels.Clone());
        }
        catch (JsonException e)
        {
            var lines = text.ReplaceLineEndings("\n").Split('\n');
            var meta = Array.FindIndex(lines, l => l.TrimEnd() == "#!meta") + 1;
            throw new InvalidDataException($"{sourceName}: line {meta}: the #!meta section is not valid JSON: "
                                           + e.Message.Split(" Path:")[0].Split(" LineNumber:")[0], e);
        }
    }

    /// <summary>
    /// The notebook metadata to write: the notebook's own, plus a .NET Interactive kernelspec, language_info and
    /// polyglot_notebook kernel list where missing (a notebook read from .dib has none).
    /// </summary>
    public static JsonObject IpynbMetadata(Notebook notebook)
    {
        var metadata = (JsonObject)notebook.Metadata.DeepClone();
        var fsharp = notebook.DefaultLanguage == NotebookLanguages.FSharp;
        metadata["kernelspec"] ??= new JsonObject
        {
            ["display_name"] = fsharp ? ".NET (F#)" : ".NET (C#)", ["language"] = fsharp ? "F#" : "C#",
            ["name"] = fsharp ? ".net-fsharp" : ".net-csharp",
        };
        metadata["language_info"] ??= new JsonObject { ["name"] = "polyglot-notebook" };
        metadata["polyglot_notebook"] ??= new JsonObject
        {
            ["kernelInfo"] = new JsonObject
            {
                ["defaultKernelName"] = notebook.DefaultLanguage,
                ["items"] = new JsonArray(
                    new JsonObject { ["aliases"] = new JsonArray(), ["languageName"] = "C#", ["name"] = "csharp" },
                    new JsonObject { ["aliases"] = new JsonArray(), ["languageName"] = "F#", ["name"] = "fsharp" }),
            },
        };
        return metadata;
    }

    /// <summary>
    /// Fixes the package's .ipynb text for <paramref name="notebook"/> (whose ids are filled): raw cells, JSON MIME data,
    /// nbformat_minor ≥ 5, and Jupyter's layout (every object's keys sorted, indent 1, a final newline).
    /// </summary>
    public static string Repair(string written, Notebook notebook)
    {
        var root = JsonNode.Parse(written)!.AsObject();
        var cells = root["cells"]!.AsArray();
        for (int i = 0; i < cells.Count; i++)
        {
            var json = cells[i]!.AsObject();
            var cell = notebook.Cells[i];
            if (json["id"] is null) json["id"] = cell.Id;
            if (cell.Kind == CellKind.Raw)
            {
                json["cell_type"] = "raw";
                json["metadata"] = NotebookDocuments.CellMetadata(cell);
                json.Remove("outputs");
                json.Remove("execution_count");
                continue;
            }
            if (json["outputs"] is not JsonArray outputs) continue;
            for (int j = 0; j < outputs.Count; j++)
                if (outputs[j]?["data"] is JsonObject data)
                    foreach (var mime in data.Select(p => p.Key).Where(IsJsonMime).ToList())
                        data[mime] = ParseJsonOrText(cell.Outputs[j].Data[mime]);
        }
        root["nbformat_minor"] = Math.Max(5, notebook.NbFormatMinor);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, JupyterLayout)) Sorted(root)!.WriteTo(writer);
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>nbformat stores JSON MIME types (application/json, */*+json) as JSON values, the rest as text.</summary>
    public static bool IsJsonMime(string mime) => mime == "application/json" || mime.EndsWith("+json", StringComparison.Ordinal);

    /// <summary>Splits text into lines that keep their "\n" (the last may lack one), as Jupyter stores multiline strings.</summary>
    public static string[] Lines(string text)
    {
        var lines = new List<string>();
        for (int start = 0; start < text.Length;)
        {
            var end = text.IndexOf('\n', start);
            var next = end < 0 ? text.Length : end + 1;
            lines.Add(text[start..next]);
            start = next;
        }
        return lines.ToArray();
    }

    static JsonNode? ParseJsonOrText(string content)
    {
        try { return JsonNode.Parse(content); }
        catch (JsonException) { return content; }
    }

    /// <summary>A copy with every object's keys in ordinal order (Python's sort_keys).</summary>
    static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Sorted).ToArray()),
        _ => node?.DeepClone(),
    };

    static JsonNode? At(JsonNode? node, params string[] keys)
    {
        foreach (var key in keys) node = node is JsonObject o ? o[key] : null;
        return node;
    }

    static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
