using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// Reads Jupyter/Polyglot .ipynb files (nbformat 4). A code cell's language comes from its metadata
/// (<c>dotnet_interactive.language</c> or <c>polyglot_notebook.kernelName</c>), else from the notebook
/// (<c>polyglot_notebook.kernelInfo.defaultKernelName</c>, <c>kernelspec.language</c>, <c>language_info.name</c>), else C#.
/// Malformed input throws <see cref="InvalidDataException"/> naming the file and the cell.
/// </summary>
public static class IpynbReader
{
    public static Notebook Read(string path) => Parse(File.ReadAllText(path), path);

    /// <param name="json">The .ipynb text.</param>
    /// <param name="sourceName">Used in messages and kept as <see cref="Notebook.SourcePath"/>.</param>
    public static Notebook Parse(string json, string sourceName)
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

        var notebook = new Notebook
        {
            SourcePath = sourceName,
            Metadata = obj["metadata"] as JsonObject is { } meta ? (JsonObject)meta.DeepClone() : new JsonObject(),
            NbFormatMinor = obj["nbformat_minor"] is JsonValue mv && mv.TryGetValue<int>(out var minor) ? minor : 0,
        };
        notebook.DefaultLanguage = DefaultLanguage(notebook.Metadata);
        for (int i = 0; i < cells.Count; i++)
        {
            try { notebook.Cells.Add(ReadCell(cells[i], notebook.DefaultLanguage)); }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{sourceName}: cell {i + 1}: {e.Message}", e);
            }
        }
        CellIds.Fill(notebook);
        return notebook;
    }

    static string DefaultLanguage(JsonObject metadata)
    {
        var name = Str(At(metadata, "polyglot_notebook", "kernelInfo", "defaultKernelName"))
                   ?? Str(At(metadata, "kernelspec", "language"))
                   ?? Str(At(metadata, "language_info", "name"));
        if (name is null) return NotebookLanguages.CSharp;
        var normalized = NotebookLanguages.Normalize(name);
        return normalized is "polyglot-notebook" or "dotnet-interactive" ? NotebookLanguages.CSharp : normalized;
    }

    static NotebookCell ReadCell(JsonNode? node, string defaultLanguage)
    {
        if (node is not JsonObject cell) throw new InvalidDataException("a cell must be a JSON object");
        var type = Str(cell["cell_type"]) ?? throw new InvalidDataException("missing \"cell_type\"");
        var kind = type switch
        {
            "code" => CellKind.Code, "markdown" => CellKind.Markdown, "raw" => CellKind.Raw,
            _ => throw new InvalidDataException($"unknown cell_type \"{type}\""),
        };
        var metadata = cell["metadata"] as JsonObject is { } m ? (JsonObject)m.DeepClone() : new JsonObject();
        var language = kind switch
        {
            CellKind.Markdown => NotebookLanguages.Markdown,
            CellKind.Raw => "raw",
            _ => (Str(At(metadata, "dotnet_interactive", "language")) ?? Str(At(metadata, "polyglot_notebook", "kernelName"))) is { } named
                ? NotebookLanguages.Normalize(named) : defaultLanguage,
        };
        var result = new NotebookCell(kind, language, MultilineText(cell["source"], "source")) { Id = Str(cell["id"]), Metadata = metadata };
        if (metadata["tags"] is JsonArray tags)
        {
            result.Tags.AddRange(tags.Select(t => Str(t) ?? throw new InvalidDataException("metadata.tags must hold strings")));
            metadata.Remove("tags");
        }
        if (kind != CellKind.Code) return result;
        result.ExecutionCount = cell["execution_count"] is JsonValue ec && ec.TryGetValue<int>(out var count) ? count : null;
        if (cell["outputs"] is JsonArray outputs)
            foreach (var output in outputs) result.Outputs.Add(ReadOutput(output));
        return result;
    }

    internal static CellOutput ReadOutput(JsonNode? node)
    {
        if (node is not JsonObject o) throw new InvalidDataException("an output must be a JSON object");
        var type = Str(o["output_type"]) ?? throw new InvalidDataException("an output lacks \"output_type\"");
        var output = new CellOutput
        {
            OutputType = type switch
            {
                "execute_result" => OutputType.ExecuteResult, "display_data" => OutputType.DisplayData,
                "stream" => OutputType.Stream, "error" => OutputType.Error,
                _ => throw new InvalidDataException($"unknown output_type \"{type}\""),
            },
            Metadata = o["metadata"] as JsonObject is { } m ? (JsonObject)m.DeepClone() : new JsonObject(),
            ExecutionCount = o["execution_count"] is JsonValue ec && ec.TryGetValue<int>(out var count) ? count : null,
            Name = Str(o["name"]),
            Text = o["text"] is null ? null : MultilineText(o["text"], "text"),
            EName = Str(o["ename"]),
            EValue = Str(o["evalue"]),
        };
        if (o["data"] is JsonObject data)
            foreach (var (mime, content) in data)
                output.Data[mime] = content is JsonObject or JsonArray && IsJsonMime(mime)
                    ? content.ToJsonString() : MultilineText(content, $"data[{mime}]");
        if (o["traceback"] is JsonArray traceback) output.Traceback.AddRange(traceback.Select(t => Str(t) ?? ""));
        return output;
    }

    /// <summary>nbformat stores JSON MIME types (application/json, */*+json) as JSON values, the rest as text.</summary>
    internal static bool IsJsonMime(string mime) => mime == "application/json" || mime.EndsWith("+json", StringComparison.Ordinal);

    /// <summary>nbformat's multiline string: a string or an array of strings joined as they are.</summary>
    static string MultilineText(JsonNode? node, string field) => node switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var s) => s,
        JsonArray lines => string.Concat(lines.Select(l => Str(l) ?? throw new InvalidDataException($"\"{field}\" lines must be strings"))),
        _ => throw new InvalidDataException($"\"{field}\" must be a string or an array of strings"),
    };

    /// <summary>The node at <paramref name="keys"/> below <paramref name="node"/>, or null where a step is missing or not an object.</summary>
    internal static JsonNode? At(JsonNode? node, params string[] keys)
    {
        foreach (var key in keys) node = node is JsonObject o ? o[key] : null;
        return node;
    }

    static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
